"""A bot playing over gRPC: one session, a bidirectional Play stream, then a unary step.

    python services/api/examples/grpc_client.py [host:port]      (default 127.0.0.1:50051)

Needs `prospector api` running (it serves PlayService on PROSPECTOR_API_GRPC_PORT).
The session lives in Redis, so it can also be stepped over HTTP:
POST /api/play/sessions/{session_id}/step {"action": 6}.
"""

from __future__ import annotations

import json
import queue
import random
import sys

import grpc
from prospector_rpc.pb import pb2, pb2_grpc

CASH_OUT = 68


def main(target: str = "127.0.0.1:50051") -> None:
    with grpc.insecure_channel(target) as channel:
        play = pb2_grpc.PlayServiceStub(channel)
        names = [a.name for a in play.ListActions(pb2.ListActionsRequest()).actions]

        # Unary calls: create a session (stage-1 game, fixed seed), step it once.
        session = play.CreateSession(pb2.CreateSessionRequest(
            seed=7, config=pb2.EnvConfig(pirates=False, hazards=False, time_max=2000)))
        print("session", session.session_id, "expires at", session.expires_at)
        step = play.Step(pb2.StepRequest(session_id=session.session_id, action=8))  # WIDE_SCAN
        print("t", step.t, "reward", step.reward, "events", json.loads(step.info_json)["events"]["names"])

        # The Play stream: attach to the session, then one action per reply, choosing from the
        # action mask of the previous reply; no render state, just the observation.
        lean = pb2.ResponseOptions(omit_state_json=True, include_observation=True)
        rng = random.Random(0)
        replies: queue.Queue = queue.Queue()  # gRPC pulls commands on its own thread

        def commands():
            yield pb2.PlayRequest(attach_session_id=session.session_id, options=lean, close_on_end=True)
            for _ in range(200):
                last = replies.get()  # the reply to the previous command
                if last.terminated or last.truncated:
                    return
                valid = [a for a, ok in enumerate(last.action_mask) if ok and a != CASH_OUT]
                yield pb2.PlayRequest(action=rng.choice(valid), options=lean)

        total = 0.0
        for transition in play.Play(commands()):
            replies.put(transition)
            total += transition.reward
            if transition.action >= 0 and transition.t % 50 == 0:
                print(f"t={transition.t:4d} {names[transition.action]:<24} return so far {total:.3f}")
        print("done: t", transition.t, "return", round(total, 3), "observation[0:4]", list(transition.observation[:4]))

        try:  # the stream closed the session (close_on_end)
            play.Step(pb2.StepRequest(session_id=session.session_id, action=6))
        except grpc.RpcError as err:
            print("after the stream:", err.code().name, "-", err.details())


if __name__ == "__main__":
    main(*sys.argv[1:])
