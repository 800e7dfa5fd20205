"""ppo.greedy_envs: some training games act with the argmax action (greedy.py); run.init_weights."""

import pufferlib.pytorch
import pytest
import torch
from prospector_common.ids import new_run_id
from prospector_common.storage import RunPaths

from prospector_trainer import greedy
from prospector_trainer.config import ConfigError, load_config
from prospector_trainer.loop import start_run, train


def _cfg(tmp_path, *overrides):
    return load_config("tiny", [f'run.data_dir="{tmp_path}"', *overrides])


def test_greedy_rows_take_the_argmax_and_its_log_probability():
    torch.manual_seed(0)
    logits = torch.randn(8, 69)
    logits[:, 3] = float("inf") * -1  # a masked action
    logits[0, :] = -float("inf")
    logits[0, 3], logits[0, 10] = -float("inf"), 2.0  # row 0: one action left
    with greedy.sampling_with_greedy_rows(5):
        actions, logprobs, _ = pufferlib.pytorch.sample_logits(logits)  # as PuffeRL calls it
    log_softmax = torch.log_softmax(logits, dim=-1)
    assert actions[:5].tolist() == logits[:5].argmax(dim=-1).tolist()
    assert torch.allclose(logprobs[:5], log_softmax[:5].max(dim=-1).values)
    assert actions[0] == 10 and 3 not in actions.tolist()
    # every row's log-probability is its own action's: what PPO's ratio reads back when it learns
    assert torch.allclose(logprobs, log_softmax.gather(-1, actions.long()[:, None]).squeeze(-1))
    # learning passes the batch's actions: they come back untouched, on any thread's setting
    with greedy.sampling_with_greedy_rows(5):
        again, relogprobs, _ = pufferlib.pytorch.sample_logits(logits, action=actions)
    assert torch.equal(again.flatten(), actions.flatten()) and torch.allclose(relogprobs, logprobs)


def test_with_epsilon_a_greedy_row_keeps_its_sampled_action_on_that_share_of_steps():
    torch.manual_seed(2)
    logits = torch.zeros(4000, 69)
    logits[:, 9] = 0.5  # the argmax everywhere, 1.6 % likely under sampling
    with greedy.sampling_with_greedy_rows(3000, epsilon=0.2):
        actions, logprobs, _ = pufferlib.pytorch.sample_logits(logits)
    not_argmax = (actions[:3000] != 9).float().mean().item()
    assert 0.17 < not_argmax < 0.23  # ~0.2 x (1 - 1.6 %): the kept samples
    assert (actions[3000:] != 9).float().mean() > 0.95  # rows past n sample as ever
    log_softmax = torch.log_softmax(logits, dim=-1)
    assert torch.allclose(logprobs, log_softmax.gather(-1, actions.long()[:, None]).squeeze(-1))


def test_outside_the_context_every_row_samples():
    torch.manual_seed(1)
    logits = torch.zeros(4000, 69)  # uniform: argmax would be action 0 in every row
    actions, _, _ = pufferlib.pytorch.sample_logits(logits)
    assert len(set(actions.tolist())) > 60


@pytest.mark.parametrize("overlap", [False, True])
def test_a_run_plays_its_first_games_greedily_from_the_configured_step(tmp_path, overlap):
    cfg = _cfg(tmp_path, "ppo.greedy_envs=0.25", "ppo.greedy_from_env_steps=16384", f"ppo.overlap={str(overlap).lower()}")
    run = start_run(cfg, run_id=new_run_id())
    try:
        p = run.pufferl
        run.follow_schedule(0, 0)
        assert p.greedy_rows == 0
        run.follow_schedule(1, 16384)
        assert p.greedy_rows == 64  # a quarter of the 256 games
        if overlap:
            run.collector.start()
            run.collector.finish()  # the background batch, now in the learner's buffers
        else:
            p.evaluate()
        with torch.no_grad():
            logits, _ = run.policy.forward_eval(p.observations.reshape(-1, p.observations.shape[-1]))
        argmax = logits.argmax(dim=-1).reshape(p.actions.shape)
        acted = p.actions.long()
        assert torch.equal(acted[:64], argmax[:64])  # the first 64 games, every step
        assert (acted[64:] != argmax[64:]).float().mean() > 0.5  # the rest sample (a near-uniform policy)
    finally:
        run.close()


def test_greedy_envs_must_be_a_fraction(tmp_path):
    with pytest.raises(ConfigError, match="greedy_envs"):
        _cfg(tmp_path, "ppo.greedy_envs=1.5")
    with pytest.raises(ConfigError, match="greedy_epsilon"):
        _cfg(tmp_path, "ppo.greedy_epsilon=-0.1")


def test_a_new_run_starts_from_the_weights_of_init_weights(tmp_path):
    first = train(_cfg(tmp_path / "a", "run.total_env_steps=16384"), run_id=new_run_id())
    checkpoint = RunPaths(tmp_path / "a", first.run_id).checkpoint(0)
    run = start_run(_cfg(tmp_path / "b", f'run.init_weights="{checkpoint}"', "run.seed=99"), run_id=new_run_id())
    try:
        for name, value in first.policy.state_dict().items():
            assert torch.equal(run.policy.state_dict()[name], value), name
    finally:
        run.close()
    with pytest.raises(ValueError, match="init_weights.*not weights for this run's policy"):
        start_run(_cfg(tmp_path / "c", f'run.init_weights="{checkpoint}"', "policy.hidden_size=64"), run_id=new_run_id())
