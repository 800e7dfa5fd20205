"""prospector.render (text and pictures of a render state), the Gym env's render
modes, and prospector.gif (the numpy GIF encoder)."""

import io
import random
import warnings

import gymnasium
import numpy as np
import pytest
from prospector import render, spec
from prospector.engine import Engine
from prospector.gif import encode_gif, gif_info, write_gif
from prospector.gym_env import ProspectorGymEnv
from prospector.gym_vector import ProspectorVectorEnv
from prospector.rollout import random_valid_action
from prospector.spec import EnvConfig

from .helpers import engine_next_to_asteroids


def played_states(seed=3, steps=40):
    engine = Engine(seed=seed)
    rng = random.Random(seed)
    states = [engine.render_state()]
    for _ in range(steps):
        engine.step(random_valid_action(rng, engine.action_mask(), exclude=(spec.A_CASH_OUT,)))
        states.append(engine.render_state())
    return states


def test_render_rgb_is_an_image_of_the_state():
    state = Engine(seed=3).render_state()
    img = render.render_rgb(state)
    assert img.shape == (render.HEIGHT, render.WIDTH, 3) and img.dtype == np.uint8
    assert render.HEIGHT % 2 == 0 and render.WIDTH % 2 == 0  # video encoders want even sizes
    # the ship's ring sits on the current node
    node = state["nodes"][state["current_node"]]
    x, y = 8 + node["x"], 8 + node["y"]
    ring = img[y - 12:y + 13, x - 12:x + 13].reshape(-1, 3)
    assert (ring == render.SHIP).all(axis=1).any()
    # every node is drawn in its type's colour (dimmed when unvisited)
    for node in state["nodes"]:
        px = img[8 + node["y"], 8 + node["x"]]
        if node["id"] != state["current_node"]:
            assert px.tolist() != list(render.BACKGROUND)
    np.testing.assert_array_equal(img, render.render_rgb(state))  # deterministic


def test_frames_change_as_the_ship_moves():
    states = played_states()
    frames = [render.render_rgb(s) for s in states]
    moves = [i for i in range(1, len(states)) if states[i]["current_node"] != states[i - 1]["current_node"]]
    assert moves, "the ship never moved"
    for i in moves:
        assert not np.array_equal(frames[i], frames[i - 1])
    assert len({f.tobytes() for f in frames}) > len(frames) // 2


def test_field_view_and_end_border():
    state = engine_next_to_asteroids().render_state()
    assert state["asteroids"]
    empty = {**state, "asteroids": []}
    with_field, without = render.render_rgb(state), render.render_rgb(empty)
    changed = (with_field != without).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert len(xs) and xs.min() >= render.PANEL_X  # the asteroids are drawn in the panel's field view
    end = Engine(EnvConfig(time_max=3), seed=1)
    while not end.done:
        end.step(spec.A_HOLD)
    img = render.render_rgb(end.render_state())
    assert img[0, 0].tolist() == list(render.END_COLORS["time_up"])


def test_render_text_names_ship_node_lanes_cargo_market():
    state = played_states(steps=20)[-1]
    out = render.render_text(state)
    assert isinstance(out, str) and out.endswith("\n")
    node = state["nodes"][state["current_node"]]
    assert f"node  {state['current_node']} {node['type']}" in out
    assert "credits" in out and "fuel" in out and "lanes" in out and "cargo" in out and "market" in out
    for name in spec.COMMODITIES:
        assert name in out
    assert len(out.splitlines()) <= 10


def test_gym_env_render_modes():
    assert set(ProspectorGymEnv.metadata["render_modes"]) == {"ansi", "rgb_array"}
    assert ProspectorGymEnv.metadata["render_fps"] > 0
    with pytest.raises(ValueError, match="render_mode"):
        ProspectorGymEnv(render_mode="human")
    assert ProspectorGymEnv().render() is None
    env = ProspectorGymEnv(render_mode="ansi")
    env.reset(seed=2)
    assert "t 0/" in env.render()
    env = gymnasium.make("Prospector-v0", render_mode="rgb_array")
    _, info = env.reset(seed=3)
    rng = random.Random(0)
    previous = env.render()
    changed = 0
    for _ in range(30):
        _, _, term, trunc, info = env.step(random_valid_action(rng, info["action_mask"], exclude=(spec.A_CASH_OUT,)))
        frame = env.render()
        assert frame.shape == (render.HEIGHT, render.WIDTH, 3) and frame.dtype == np.uint8
        changed += not np.array_equal(frame, previous)
        previous = frame
        if term or trunc:
            break
    assert changed > 10
    env.close()


def test_gymnasium_env_checker_passes_with_render_modes():
    from gymnasium.utils.env_checker import check_env
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no render warning either
        # through make: the checker then also tries every other render mode
        check_env(gymnasium.make("Prospector-v0", render_mode="rgb_array").unwrapped)
        check_env(gymnasium.make("Prospector-v0", render_mode="ansi").unwrapped)


def test_vector_env_renders_every_game():
    envs = ProspectorVectorEnv(num_envs=2, render_mode="rgb_array")
    envs.reset(seed=0)
    frames = envs.render()
    assert len(frames) == 2 and frames[0].shape == (render.HEIGHT, render.WIDTH, 3)
    assert not np.array_equal(frames[0], frames[1])
    texts = ProspectorVectorEnv(num_envs=2, render_mode="ansi")
    texts.reset(seed=0)
    assert all(isinstance(t, str) for t in texts.render())


def test_record_video_writes_a_video(tmp_path):
    pytest.importorskip("moviepy")  # requirements-dev.txt
    env = gymnasium.wrappers.RecordVideo(
        gymnasium.make("Prospector-v0", render_mode="rgb_array", config=EnvConfig(time_max=60)),
        video_folder=str(tmp_path / "videos"), episode_trigger=lambda episode: True, disable_logger=True)
    _, info = env.reset(seed=1)
    rng = random.Random(1)
    for _ in range(200):
        _, _, term, trunc, info = env.step(random_valid_action(rng, info["action_mask"], exclude=(spec.A_CASH_OUT,)))
        if term or trunc:
            break
    assert term or trunc
    env.close()
    videos = list((tmp_path / "videos").glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 1000


# ---- the GIF encoder -------------------------------------------------------------------------


def test_gif_structure_and_size(tmp_path):
    frames = [render.render_rgb(s) for s in played_states(steps=12)]
    path = tmp_path / "a.gif"
    size = write_gif(path, frames, fps=5)
    data = path.read_bytes()
    assert len(data) == size and data[:6] == b"GIF89a" and data[-1:] == b"\x3b"
    assert gif_info(data) == (render.WIDTH, render.HEIGHT, len(frames))
    assert size < 0.5 * len(frames) * render.WIDTH * render.HEIGHT  # flat colours compress well
    with pytest.raises(ValueError):
        encode_gif([])
    with pytest.raises(ValueError):
        encode_gif([np.zeros((4, 4), dtype=np.uint8)])


def test_gif_decodes_to_the_exact_frames():
    Image = pytest.importorskip("PIL.Image")  # an independent decoder (moviepy brings Pillow)
    frames = [render.render_rgb(s) for s in played_states(steps=15)]
    frames.append(frames[-1].copy())  # an unchanged frame
    noise = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    small = [np.zeros((64, 80, 3), dtype=np.uint8), noise]  # noise: > 256 colours, table resets
    for seq, exact in ((frames, True), (small, False)):
        im = Image.open(io.BytesIO(encode_gif(seq)))
        assert im.n_frames == len(seq)
        for k, frame in enumerate(seq):
            im.seek(k)
            got = np.asarray(im.convert("RGB")).astype(int)
            err = np.abs(got - frame).max()
            assert err == 0 if exact else err <= 52, (k, err)
