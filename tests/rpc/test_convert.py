"""message_from_dict: plain values into messages, field by field."""

from __future__ import annotations

import numpy as np
import pytest

from prospector_rpc.convert import message_from_dict
from prospector_rpc.pb import pb2


def test_nested_repeated_and_optional_fields():
    reply = message_from_dict(pb2.EvaluateWindowReply, {
        "run_id": "r", "window_id": np.int32(2), "replay_ids": ["a", "b"],
        "replays": [{"replay_id": "a", "seed": 7, "tags": ["every_window"], "survived": 1}],
    })
    assert reply.replay_ids == ["a", "b"]
    assert reply.replays[0].seed == 7 and reply.replays[0].survived is True
    assert list(reply.replays[0].tags) == ["every_window"]

    status = message_from_dict(pb2.EvaluatorStatus, {"current_window": 0})
    assert status.HasField("current_window") and status.current_window == 0
    assert not message_from_dict(pb2.EvaluatorStatus, {"current_window": None}).HasField("current_window")

    session = message_from_dict(pb2.Session, {"config": {}, "action_mask": np.array([1, 0, 1], dtype=np.uint8)})
    assert session.HasField("config")
    assert list(session.action_mask) == [True, False, True]


@pytest.mark.parametrize("status, field", [
    ({"env_steps": 1.5}, "env_steps"),
    ({"env_steps": 2**63}, "env_steps"),
    ({"sps": "fast"}, "sps"),
])
def test_values_that_do_not_fit_name_the_field(status, field):
    with pytest.raises(ValueError, match=f"TrainerStatus.{field}"):
        message_from_dict(pb2.TrainerStatus, status)


def test_whole_floats_are_accepted_for_integer_fields():
    assert message_from_dict(pb2.TrainerStatus, {"env_steps": 3.0}).env_steps == 3
