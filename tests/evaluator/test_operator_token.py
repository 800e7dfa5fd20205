"""On-demand evaluation changes the catalog: with an operator token configured it needs the token
(gRPC metadata `authorization: Bearer <token>`); Status stays open; without a token nothing changes."""

from __future__ import annotations

import grpc
import pytest
from prospector_common.settings import Settings
from prospector_evaluator.servicer import EvaluatorServicer
from prospector_rpc.auth import bearer_ok
from prospector_rpc.pb import pb2, pb2_grpc
from prospector_rpc.server import serve_grpc

from .conftest import make_evaluator, make_run

TOKEN = "s3cret-operator-token"


def test_evaluate_window_needs_the_operator_token_when_one_is_set(settings, catalog, streams, monkeypatch):
    monkeypatch.setenv("PROSPECTOR_OPERATOR_TOKEN", TOKEN)
    configured = Settings().operator_token
    assert configured is not None and configured.get_secret_value() == TOKEN and TOKEN not in repr(Settings())
    evaluator = make_evaluator(settings, streams, catalog)
    server = serve_grpc([EvaluatorServicer(evaluator, operator_token=configured)], port=0, host="127.0.0.1")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = pb2_grpc.EvaluatorServiceStub(channel)
            paths, _ = make_run(catalog, settings.data_dir, 1)
            request = pb2.EvaluateWindowRequest(run_id=paths.run_id, window_id=0, episodes=1)
            for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", TOKEN),)):
                with pytest.raises(grpc.RpcError) as refused:
                    stub.EvaluateWindow(request, metadata=metadata)
                assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
                assert "PROSPECTOR_OPERATOR_TOKEN" in refused.value.details()
            assert catalog.list_replays(paths.run_id, limit=10).items == []  # nothing was recorded
            assert stub.Status(pb2.StatusRequest()).windows_done == 0  # read-only: open
            reply = stub.EvaluateWindow(request, metadata=(("authorization", f"Bearer {TOKEN}"),))
            assert len(reply.replays) == 1
    finally:
        server.stop(grace=None).wait(5)
        evaluator.close()


def test_bearer_check():
    assert bearer_ok(None, None) and bearer_ok("anything", None)  # no token configured: open
    assert bearer_ok(f"Bearer {TOKEN}", TOKEN) and bearer_ok(f"bearer {TOKEN}", TOKEN)
    assert not bearer_ok(None, TOKEN) and not bearer_ok(TOKEN, TOKEN) and not bearer_ok("Bearer x", TOKEN)
    monkeypatched = Settings(operator_token="   ")
    assert monkeypatched.operator_token is None  # set but empty: no token
