"""`prospector replay video FILE -o out.gif`: a replay drawn frame by frame into a GIF."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from prospector import spec
from prospector.cli import main as prospector_main
from prospector.engine import Engine
from prospector.gif import gif_info
from prospector.render import HEIGHT, WIDTH, render_rgb
from prospector.rollout import random_valid_action
from prospector.spec import EnvConfig
from prospector_common.replay import Recorder, iter_frames, write_replay

CONFIG = EnvConfig(time_max=120)


@pytest.fixture(scope="module")
def replay_file(tmp_path_factory):
    """A short episode played to its end with random valid actions, recorded as a replay."""
    engine = Engine(CONFIG, seed=5)
    recorder = Recorder(engine.render_state())
    rng = random.Random(5)
    while not engine.done:
        action = random_valid_action(rng, engine.action_mask(), exclude=(spec.A_CASH_OUT,))
        reward, _, _ = engine.step(action)
        recorder.add(action, reward, engine.events(), engine.render_state())
    path = tmp_path_factory.mktemp("replay") / "r.jsonl.gz"
    write_replay(path, recorder.to_bytes(seed=5, env_config=CONFIG.to_dict(), summary={"metrics": engine.metrics()}))
    return path, len(recorder)


def test_video_has_one_frame_per_state(replay_file, tmp_path, capsys):
    path, steps = replay_file
    assert steps > 5
    out = tmp_path / "out.gif"
    assert prospector_main(["replay", "video", str(path), "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    data = out.read_bytes()
    assert gif_info(data) == (WIDTH, HEIGHT, steps + 1)  # the state after reset, then every step
    assert report == {"ok": True, "file": str(path), "output": str(out), "frames": steps + 1, "width": WIDTH,
                      "height": HEIGHT, "bytes": len(data), "fps": 4.0}


def test_video_frames_are_the_render_of_each_state(replay_file, tmp_path):
    Image = pytest.importorskip("PIL.Image")  # an independent GIF decoder
    path, steps = replay_file
    out = tmp_path / "out.gif"
    assert prospector_main(["replay", "video", str(path), "-o", str(out), "--max-frames", "6"]) == 0
    states = [frame["state"] for frame in iter_frames(path, limit=5)]
    im = Image.open(out)
    assert im.n_frames == 6
    for k, state in enumerate(states, start=1):
        im.seek(k)
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), render_rgb(state))


def test_every_and_errors(replay_file, tmp_path, capsys):
    path, steps = replay_file
    out = tmp_path / "every.gif"
    assert prospector_main(["replay", "video", str(path), "-o", str(out), "--every", "10"]) == 0
    # the reset state, every 10th step, and the final one
    expected = 1 + steps // 10 + (1 if steps % 10 else 0)
    assert gif_info(out.read_bytes())[2] == expected
    assert "frames of 400x272" in capsys.readouterr().out
    missing = tmp_path / "missing.gif"
    assert prospector_main(["replay", "video", str(tmp_path / "nope.jsonl.gz"), "-o", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err and not missing.exists()
    assert prospector_main(["replay", "video", str(path), "-o", str(out), "--every", "0"]) == 2
