"""The code generated from protos/prospector.proto by `make setup`."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from google.protobuf import descriptor_pb2

from .conftest import ROOT

PROTO = ROOT / "protos" / "prospector.proto"
GEN = ROOT / "services" / "rpc" / "prospector_rpc" / "gen"


def test_generated_modules_import_as_one_package_with_relative_imports():
    from prospector_rpc.gen import prospector_pb2, prospector_pb2_grpc
    from prospector_rpc.pb import pb2, pb2_grpc

    assert pb2 is prospector_pb2 and pb2_grpc is prospector_pb2_grpc
    # the stubs use the package's own messages, not a top-level prospector_pb2
    assert prospector_pb2_grpc.prospector__pb2 is prospector_pb2
    assert "prospector_pb2" not in sys.modules
    assert (GEN / "prospector_pb2.pyi").is_file()


def _clear_json_names(file: descriptor_pb2.FileDescriptorProto) -> None:
    def clear(message):
        for field in message.field:
            field.ClearField("json_name")
        for nested in message.nested_type:
            clear(nested)

    for message in file.message_type:
        clear(message)


def test_generated_code_matches_the_proto_file(tmp_path):
    """A stale gen/ (the .proto edited, make setup not re-run) fails here."""
    from grpc_tools import protoc

    from prospector_rpc.pb import pb2

    out = tmp_path / "set.pb"
    rc = protoc.main(["protoc", f"-I{PROTO.parent}", f"--descriptor_set_out={out}", str(PROTO)])
    assert rc == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    built = descriptor_pb2.FileDescriptorProto.FromString(pb2.DESCRIPTOR.serialized_pb)
    _clear_json_names(fresh)  # the Python plugin leaves the derived json_name out; nothing else differs
    _clear_json_names(built)
    assert built == fresh, "prospector_rpc/gen is stale: run `make setup`"


def test_proto_declares_the_three_services_and_their_methods():
    from prospector_rpc.pb import SERVICE_NAMES, pb2

    assert pb2.DESCRIPTOR.package == "prospector.v1"
    assert SERVICE_NAMES == ("prospector.v1.TrainerService", "prospector.v1.EvaluatorService",
                             "prospector.v1.PlayService")
    services = pb2.DESCRIPTOR.services_by_name
    shapes = {
        name: {m.name: (m.input_type.name, m.output_type.name, m.client_streaming, m.server_streaming)
               for m in services[name].methods}
        for name in services
    }
    assert shapes["TrainerService"] == {"Status": ("StatusRequest", "TrainerStatus", False, False)}
    assert shapes["EvaluatorService"] == {
        "Status": ("StatusRequest", "EvaluatorStatus", False, False),
        "EvaluateWindow": ("EvaluateWindowRequest", "EvaluateWindowReply", False, False),
    }
    assert shapes["PlayService"] == {
        "CreateSession": ("CreateSessionRequest", "Session", False, False),
        "Reset": ("ResetRequest", "Session", False, False),
        "Step": ("StepRequest", "Transition", False, False),
        "CloseSession": ("CloseSessionRequest", "CloseSessionReply", False, False),
        "ListActions": ("ListActionsRequest", "ActionList", False, False),
        "Play": ("PlayRequest", "Transition", True, True),
        "Suggest": ("SuggestRequest", "Suggestion", False, False),
    }


def test_messages_carry_the_documented_fields():
    from prospector_rpc.pb import pb2

    def fields(message):
        return [f.name for f in message.DESCRIPTOR.fields]

    assert fields(pb2.TrainerStatus)[:7] == ["run_id", "env_steps", "sps", "current_window",
                                             "last_checkpoint_path", "last_checkpoint_time", "state"]
    assert fields(pb2.EvaluatorStatus)[:5] == ["windows_done", "failures", "queue_lag", "current_run_id",
                                               "current_window"]
    assert fields(pb2.EvaluateWindowRequest)[:4] == ["run_id", "window_id", "episodes", "seed"]
    assert "replay_ids" in fields(pb2.EvaluateWindowReply)
    assert fields(pb2.Session)[:3] == ["session_id", "state_json", "action_mask"]
    assert fields(pb2.StepRequest)[:2] == ["session_id", "action"]
    assert fields(pb2.Transition)[:8] == ["session_id", "action", "reward", "terminated", "truncated",
                                          "state_json", "info_json", "action_mask"]
    assert fields(pb2.Action) == ["index", "name", "group"]
    # presence where 0 is a real value: seed 0 is a seed, window 0 a window
    assert pb2.CreateSessionRequest.DESCRIPTOR.fields_by_name["seed"].has_presence
    assert pb2.EvaluatorStatus.DESCRIPTOR.fields_by_name["current_window"].has_presence
    assert not pb2.EvaluatorStatus().HasField("current_window")


def test_env_config_message_matches_the_engine_config_fields():
    from prospector.spec import EnvConfig

    from prospector_rpc.pb import pb2

    assert [f.name for f in pb2.EnvConfig.DESCRIPTOR.fields] == list(EnvConfig().to_dict())


def test_generated_code_is_gitignored():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", str(GEN / "prospector_pb2.py")], cwd=ROOT)
    assert result.returncode == 0
