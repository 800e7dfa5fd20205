"""The numpy forward pass (prospector_common.policy.serving) against torch's, on observations recorded
from real episodes: the same logits, values, probabilities, entropies and argmax, for the MLP and the
LSTM, with and without action masking and forbidden actions; the exported file's checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from prospector import spec
from prospector_common.policy import checkpoint as ckpt
from prospector_common.policy.actor import explain as torch_explain
from prospector_common.policy.network import make_policy, policy_input
from prospector_common.policy.serving import (
    HEADER,
    NumpyPolicy,
    PolicyFileError,
    export_numpy,
    random_policy,
    suggest,
)

from .recorded import record_episodes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def episodes():
    return record_episodes()


def make_checkpoint(path: Path, seed: int, **kwargs) -> Path:
    """A checkpoint through the trainer's code path, of a fresh policy whose weights are spread out
    (a fresh actor head is nearly uniform, which would make the comparison of the top actions moot)."""
    torch.manual_seed(seed)
    policy = make_policy(**kwargs)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    ckpt.save(path, {"run_id": "20250101-120000-abc1234-0a1b", "window_id": 4, "env_steps": 5000, "epoch": 4,
                     "spec_version": spec.SPEC_VERSION, "config": {}, "policy_kwargs": dict(kwargs),
                     "policy_state_dict": policy.state_dict(), "optimizer_state_dict": {},
                     "scheduler_state_dict": {}})
    return path


CASES = {
    "mlp-masked-forbid": dict(kind="mlp", hidden_size=64, action_masking=True, forbid_cash_out=True,
                              forbid_jettison=True),
    "mlp-plain": dict(kind="mlp", hidden_size=32, action_masking=False, forbid_cash_out=False,
                      forbid_jettison=False),
    "lstm-masked": dict(kind="lstm", hidden_size=32, action_masking=True, forbid_cash_out=True,
                        forbid_jettison=False),
    "mlp-masked-noops": dict(kind="mlp", hidden_size=48, action_masking=True, forbid_cash_out=True,
                             forbid_jettison=True, mask_noops=True),
    "lstm-noops": dict(kind="lstm", hidden_size=32, action_masking=False, forbid_cash_out=True,
                       forbid_jettison=False, mask_noops=True),
    "mlp-masked-noops-idle": dict(kind="mlp", hidden_size=48, action_masking=True, forbid_cash_out=True,
                                  forbid_jettison=True, mask_noops=True, mask_idle=True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_numpy_forward_matches_torch_on_recorded_episodes(case, episodes, tmp_path):
    kwargs = CASES[case]
    path = make_checkpoint(tmp_path / "ckpt_4.pt", seed=len(case), **kwargs)
    out = export_numpy(path, tmp_path / "policy.npz", name="test model")
    served = NumpyPolicy.load(out)
    assert (served.name, served.kind, served.hidden_size) == ("test model", kwargs["kind"], kwargs["hidden_size"])
    torch_policy, _ = ckpt.load_policy(path)
    torch_policy.eval()
    worst = {"logit": 0.0, "value": 0.0, "prob": 0.0, "entropy": 0.0}
    rows = argmax_same = 0
    for obs, masks in episodes:
        state_t = ({"lstm_h": torch.zeros(1, kwargs["hidden_size"]), "lstm_c": torch.zeros(1, kwargs["hidden_size"])}
                   if kwargs["kind"] == "lstm" else {})
        state_n = served.initial_state(1)
        for t in range(len(obs)):  # one step at a time, carrying the LSTM's state through the episode
            with torch.no_grad():
                x = torch.from_numpy(policy_input(obs[t:t + 1], masks[t:t + 1], kwargs["action_masking"]))
                logits_t, value_t = torch_policy.forward_eval(x, state_t)
            logits_n, value_n, state_n = served.forward(obs[t], masks[t], state_n)
            valid = logits_t[0].numpy() > -1e8
            assert np.array_equal(valid, logits_n[0] > -1e8)  # the same actions masked out
            worst["logit"] = max(worst["logit"], float(np.abs(logits_t[0].numpy()[valid] - logits_n[0][valid]).max()))
            worst["value"] = max(worst["value"], abs(float(value_t[0, 0]) - float(value_n[0])))
            expected = torch_explain(logits_t, value_t, k=5)[0]
            top, value, entropy, argmax = served.suggest(obs[t], masks[t], state=None if state_n is None
                                                         else _previous(served, obs, masks, t))
            # explain() rounds for people to read; the comparison is with torch's unrounded figures
            logp_t = torch.log_softmax(logits_t[0].double(), -1)
            probs_t = logp_t.exp().numpy()
            entropy_t = float(-(torch.where(logp_t.exp() > 0, logp_t.exp() * logp_t, 0.0)).sum())
            worst["prob"] = max(worst["prob"], max(abs(p - probs_t[a]) for a, p in top))
            worst["entropy"] = max(worst["entropy"], abs(entropy - entropy_t))
            assert entropy == pytest.approx(expected["entropy"], abs=1e-4)
            # the same five actions, best first (where two probabilities tie within float error, either order)
            assert [a for a, _ in top] == [a for a, _ in expected["top"]] or np.allclose(
                sorted(probs_t[[a for a, _ in top]]), sorted(probs_t[[a for a, _ in expected["top"]]]), atol=1e-6)
            assert value == pytest.approx(float(value_t[0, 0]), abs=1e-4)
            argmax_same += argmax == int(logits_t.argmax())
            rows += 1
            if kwargs["forbid_cash_out"]:
                assert spec.A_CASH_OUT not in [a for a, p in top if p > 0]
            if kwargs["action_masking"]:
                assert all(masks[t][a] for a, p in top if p > 0)  # never an action the engine refuses
    print(f"\n{case}: {rows} observations from {len(episodes)} episodes; max |numpy - torch|: "
          + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()) + f"; argmax equal {argmax_same}/{rows}")
    assert rows > 300
    assert argmax_same == rows
    assert worst["logit"] < 1e-4 and worst["value"] < 1e-4
    assert worst["prob"] < 1e-5 and worst["entropy"] < 1e-5


def _previous(served: NumpyPolicy, obs, masks, t):
    """The LSTM's state before step t of an episode (replayed from its start)."""
    state = served.initial_state(1)
    for i in range(t):
        _, _, state = served.forward(obs[i], masks[i], state)
    return state


def test_batched_forward_equals_rows_one_at_a_time(episodes, tmp_path):
    served = NumpyPolicy.load(export_numpy(make_checkpoint(tmp_path / "ckpt_4.pt", 1, **CASES["mlp-masked-forbid"]),
                                           tmp_path / "p.npz"))
    obs, masks = episodes[0]
    logits, values, _ = served.forward(obs, masks)
    for t in (0, 7, len(obs) - 1):
        one, value, _ = served.forward(obs[t], masks[t])
        assert np.allclose(one[0], logits[t], atol=1e-5) and value[0] == pytest.approx(values[t], abs=1e-5)


def test_suggest_function_and_its_shape(episodes):
    policy = random_policy(hidden_size=16, seed=5)
    obs, masks = episodes[1]
    top, value, entropy, argmax = suggest(policy, obs[10], masks[10])
    assert len(top) == 5 and top[0][0] == argmax and isinstance(value, float)
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-9
    assert 0.0 <= entropy <= np.log(int(masks[10].sum())) + 1e-9


def test_bad_inputs_are_refused_clearly(episodes):
    policy = random_policy(hidden_size=16)
    obs, masks = episodes[0]
    with pytest.raises(ValueError, match=r"\[n, 260\]"):
        policy.forward(obs[0][:100], masks[0])
    with pytest.raises(ValueError, match="action masks"):
        policy.forward(obs[0], None)
    with pytest.raises(ValueError, match=r"masks must be \[1, 69\]"):
        policy.forward(obs[0], masks[0][:10])
    bad = obs[0].copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        policy.forward(bad, masks[0])


def test_file_checks_name_the_problem(tmp_path):
    good = random_policy(hidden_size=8).save(tmp_path / "good.npz")
    assert NumpyPolicy.load(good).hidden_size == 8
    with pytest.raises(PolicyFileError, match="does not exist"):
        NumpyPolicy.load(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(PolicyFileError, match="unreadable"):
        NumpyPolicy.load(tmp_path / "junk.npz")
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(arrays[HEADER].tobytes())

    def rewrite(name: str, **changes) -> Path:
        h = {**header, **{k: v for k, v in changes.items() if not k.startswith("_")}}
        a = {**arrays, HEADER: np.frombuffer(json.dumps(h).encode(), np.uint8)}
        if "_weights" in changes:
            a.update(changes["_weights"])
        np.savez(tmp_path / name, **a)
        return tmp_path / name

    with pytest.raises(PolicyFileError, match="spec version"):
        NumpyPolicy.load(rewrite("v.npz", spec_version=spec.SPEC_VERSION + 1))
    with pytest.raises(PolicyFileError, match="kind"):
        NumpyPolicy.load(rewrite("k.npz", kind="transformer"))
    with pytest.raises(PolicyFileError, match=r"enc1.w has shape \(8, 9\)"):
        NumpyPolicy.load(rewrite("s.npz", _weights={"enc1.w": np.zeros((8, 9), np.float32)}))
    with pytest.raises(PolicyFileError, match="finite"):
        NumpyPolicy.load(rewrite("n.npz", _weights={"actor.b": np.full(69, np.nan, np.float32)}))
    with pytest.raises(PolicyFileError, match="no header"):
        np.savez(tmp_path / "h.npz", **{k: v for k, v in arrays.items() if k != HEADER})
        NumpyPolicy.load(tmp_path / "h.npz")


def test_serving_imports_no_torch():
    code = ("import sys; import prospector_common.policy.serving as s; "
            "p = s.random_policy(hidden_size=8); p.suggest([0.0] * 260, [1] * 69); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pufferlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_export_command(tmp_path):
    path = make_checkpoint(tmp_path / "ckpt_4.pt", 2, **CASES["mlp-plain"])
    out = subprocess.run([sys.executable, "-m", "prospector_common.policy.serving", str(path),
                          str(tmp_path / "m" / "policy.npz"), "--name", "ppo-pretrained"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert NumpyPolicy.load(tmp_path / "m" / "policy.npz").name == "ppo-pretrained"
    missing = subprocess.run([sys.executable, "-m", "prospector_common.policy.serving", str(tmp_path / "no.pt"),
                              str(tmp_path / "x.npz")], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
