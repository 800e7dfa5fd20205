"""The WebSocket replay stream (init, frames, done; pause, seek, speed, stride) and live events (SSE)."""

from __future__ import annotations

import json
import threading
import time

import httpx
from prospector_api.app import create_app
from prospector_common.storage import RunPaths
from prospector_common.streams import ReplayAnnouncement, WindowAnnouncement
from prospector_common.replay import read_frames, read_header

from .conftest import LiveServer


def _ws(client, recorded, replay_index=0, query=""):
    replay_id = recorded.replay_ids[replay_index]
    return client.websocket_connect(f"/ws/runs/{recorded.run_id}/replays/{replay_id}{query}"), replay_id


def test_stream_sends_init_every_frame_then_done(client, recorded):
    ws, replay_id = _ws(client, recorded, query="?fps=1000")
    path = RunPaths(recorded.data_dir, recorded.run_id).replay(replay_id)
    expected = read_frames(path)
    with ws as socket:
        init = socket.receive_json()
        assert init["type"] == "init" and init["length"] == len(expected) and init["fps"] == 1000
        assert init["header"]["initial_state"] == read_header(path)["initial_state"]
        frames = [socket.receive_json() for _ in expected]
        assert [f["type"] for f in frames] == ["frame"] * len(expected)
        assert [{k: v for k, v in f.items() if k != "type"} for f in frames] == expected
        done = socket.receive_json()
        assert done == {"type": "done", "frames_sent": len(expected), "length": len(expected)}
        socket.send_json({"type": "seek", "frame": len(expected) - 1})  # a seek plays again from there
        assert socket.receive_json()["type"] == "status"
        last = socket.receive_json()
        assert last["index"] == len(expected) - 1 and socket.receive_json()["type"] == "done"


def test_stride_from_and_pacing(client, recorded):
    ws, replay_id = _ws(client, recorded, query="?fps=50&stride=5&from=10")
    with ws as socket:
        init = socket.receive_json()
        assert init["from"] == 10 and init["stride"] == 5
        start = time.monotonic()
        indexes = [socket.receive_json()["index"] for _ in range(6)]
        elapsed = time.monotonic() - start
    assert indexes == [10, 15, 20, 25, 30, 35]
    assert elapsed >= 0.08  # 6 frames at 50 fps: at least 5 intervals of 20 ms


def test_pause_seek_and_speed_controls(client, recorded):
    ws, _ = _ws(client, recorded, query="?fps=20")
    with ws as socket:
        socket.receive_json()  # init
        socket.receive_json()  # frame 0
        socket.send_json({"type": "pause"})
        # frames already on their way may arrive before the status
        message = socket.receive_json()
        while message["type"] == "frame":
            message = socket.receive_json()
        assert message["type"] == "status" and message["paused"] is True
        socket.send_json({"type": "seek", "frame": 40})
        status = socket.receive_json()
        assert status["position"] == 40 and status["paused"] is True
        socket.send_json({"type": "speed", "fps": 500})
        assert socket.receive_json()["fps"] == 500
        socket.send_json({"type": "resume"})
        assert socket.receive_json()["paused"] is False
        assert socket.receive_json()["index"] == 40
        socket.send_json({"type": "speed", "fps": -1})
        error = socket.receive_json()
        while error["type"] == "frame":
            error = socket.receive_json()
        assert error["type"] == "error" and "fps" in error["detail"]
        socket.send_text("not json")
        message = socket.receive_json()
        while message["type"] == "frame":
            message = socket.receive_json()
        assert message["type"] == "error"


def test_bad_ids_or_unknown_replay_close_the_socket_with_a_reason(client, recorded):
    for url, status in ((f"/ws/runs/{recorded.run_id}/replays/w000000-s1-00000000", 404),
                        (f"/ws/runs/{recorded.run_id}/replays/w000000-s1-zz%00zz", 422),
                        (f"/ws/runs/{recorded.run_id}/replays/{recorded.replay_ids[0]}?fps=0", 422),
                        (f"/ws/runs/{recorded.other_run_id}/replays/{recorded.replay_ids[0]}", 404)):
        with client.websocket_connect(url) as socket:
            message = socket.receive_json()
            assert message["type"] == "error" and message["status"] == status, url
            assert socket.receive()["code"] == 4000 + status


def test_events_relay_new_replays_and_windows_live(settings, api_settings, redis_client, recorded):
    app = create_app(settings, api_settings)
    with LiveServer(app) as server:
        received: list[tuple[str, dict]] = []
        connected = threading.Event()

        def listen() -> None:
            with httpx.stream("GET", f"{server.url}/api/events", timeout=10) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                event = None
                for line in response.iter_lines():
                    connected.set()
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event:
                        received.append((event, json.loads(line[6:])))
                        if len(received) == 2:
                            return

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        assert connected.wait(5)
        replay = ReplayAnnouncement(run_id=recorded.run_id, window_id=0, replay_id=recorded.replay_ids[0],
                                    tags=["every_window"])
        redis_client.xadd(api_settings.replays_stream, {"v": "1", "junk": "x"})  # malformed: skipped
        redis_client.xadd(api_settings.replays_stream, replay.to_fields())
        window = WindowAnnouncement(run_id=recorded.run_id, window_id=7, env_steps=5, checkpoint_path="c",
                                    metrics={"m": 1.5})
        redis_client.xadd(api_settings.windows_stream, window.to_fields())
        thread.join(10)
        assert not thread.is_alive()
        assert ("replay", replay.model_dump(mode="json")) in received
        assert ("window", window.model_dump(mode="json")) in received
