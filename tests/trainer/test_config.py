"""TrainConfig: TOML file plus --set overrides."""

import pytest

from prospector.spec import EnvConfig
from prospector_trainer.config import ConfigError, TrainConfig, load_config, parse_override


def write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_toml_sections_fill_the_config_and_missing_keys_keep_defaults(tmp_path):
    p = write(tmp_path, """
[run]
total_env_steps = 1_000_000
window_env_steps = 250_000
[vec]
num_envs = 512
[ppo]
learning_rate = 3e-4
bptt_horizon = 32
minibatch_size = 4096
[env]
time_max = 5000
pirates = false
""")
    cfg = load_config(p)
    assert cfg.run.total_env_steps == 1_000_000 and cfg.n_windows == 4
    assert cfg.vec.num_envs == 512 and cfg.batch_size == 512 * 32
    assert cfg.ppo.learning_rate == 3e-4
    assert cfg.ppo.gamma == TrainConfig().ppo.gamma
    assert cfg.env_config == EnvConfig(time_max=5000, pirates=False)


def test_overrides_use_dotted_keys_and_toml_values(tmp_path):
    cfg = load_config(write(tmp_path, "[vec]\nnum_envs = 512\n[ppo]\nminibatch_size = 4096\n"), [
        "ppo.learning_rate=1e-3", "env.pirates=false", "policy.kind=lstm", "run.total_env_steps=2e6",
        "policy.action_masking=true", 'run.data_dir="/tmp/x y"'])
    assert cfg.ppo.learning_rate == 1e-3
    assert cfg.env_config.pirates is False
    assert cfg.policy.kind == "lstm"          # a bare word is a string
    assert cfg.run.total_env_steps == 2_000_000 and isinstance(cfg.run.total_env_steps, int)
    assert cfg.policy.action_masking is True
    assert cfg.run.data_dir == "/tmp/x y"


def test_curriculum_sets_switches_and_explicit_keys_win():
    cfg = load_config(None, ["env.curriculum=1", "env.fractures=true", "env.time_max=3000"])
    assert cfg.env_config == EnvConfig.curriculum(1, time_max=3000).replace(fractures=True)


def test_schedule_changes_the_env_from_its_env_step_on():
    cfg = load_config(None, ["env.curriculum=1", "env.time_max=3000",
                             "env.schedule=[{from_env_steps=100, curriculum=3}, {from_env_steps=200, curriculum=5, "
                             "time_max=20000, shocks=false}]"])
    assert cfg.env_config == cfg.env_config_at(99) == EnvConfig.curriculum(1, time_max=3000)
    assert cfg.env_config_at(100) == EnvConfig.curriculum(3, time_max=3000)
    assert cfg.env_config_at(10**9) == EnvConfig(time_max=20000, shocks=False)


@pytest.mark.parametrize("schedule, message", [
    ("[{from_env_steps=200, curriculum=3}, {from_env_steps=100, curriculum=5}]", "increasing order"),
    ("[{curriculum=3}]", "from_env_steps must be integers"),
    ("[{from_env_steps=5, curriculum=9}]", "curriculum stage must be 1..5"),
    ("[{from_env_steps=5, pirate=true}]", "unknown EnvConfig keys"),
    ("3", "list of tables"),
])
def test_bad_schedules_are_clear_errors(schedule, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [f"env.schedule={schedule}"])


@pytest.mark.parametrize("override, message", [
    ("ppo.learning_rat=1", "unknown key ppo.learning_rat"),
    ("pop.learning_rate=1", "unknown config section"),
    ("ppo.update_epochs=1.5", "must be an integer"),
    ("env.pirates=1", "pirates must be a bool"),
    ("policy.action_masking=yes", "must be true or false"),
    ("policy.kind=gru", "policy.kind"),
    ("vec.num_workers=2", "num_workers must be 1"),
    ("ppo.learning_rate", "not KEY=VALUE"),
    ("learning_rate=1", "SECTION.KEY"),
])
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_parse_override_reads_toml_values():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a.b = 0.5") == (["a", "b"], 0.5)
    assert parse_override("a.b=false") == (["a", "b"], False)
    assert parse_override("a.b=offline") == (["a", "b"], "offline")


def test_shipped_configs_load():
    for name in ("default", "demo", "tiny"):
        cfg = load_config(name)
        assert cfg.batch_size >= cfg.ppo.minibatch_size
    assert load_config("tiny").n_windows == 3


def test_config_round_trips_through_dict():
    cfg = load_config("tiny", ["env.pirates=false"])
    assert TrainConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


def test_entropy_schedule_falls_linearly_to_its_final_value():
    cfg = load_config(None, ["run.total_env_steps=1000", "ppo.ent_coef=0.01", "ppo.ent_coef_final=0.002",
                             "ppo.ent_anneal_from_env_steps=200"])
    assert cfg.ent_coef_at(0) == cfg.ent_coef_at(200) == 0.01
    assert cfg.ent_coef_at(600) == pytest.approx(0.006)
    assert cfg.ent_coef_at(1000) == cfg.ent_coef_at(5000) == pytest.approx(0.002)
    assert load_config(None, ["ppo.ent_coef=0.03"]).ent_coef_at(10**9) == 0.03  # no final: constant


def test_entropy_schedule_can_end_before_the_run_and_stay_there():
    cfg = load_config(None, ["run.total_env_steps=1000", "ppo.ent_coef=0.01", "ppo.ent_coef_final=0.002",
                             "ppo.ent_anneal_from_env_steps=200", "ppo.ent_anneal_to_env_steps=600"])
    assert cfg.ent_coef_at(400) == pytest.approx(0.006)
    assert cfg.ent_coef_at(600) == cfg.ent_coef_at(1000) == pytest.approx(0.002)
    with pytest.raises(ConfigError, match="ent_anneal_to_env_steps"):
        load_config(None, ["ppo.ent_anneal_from_env_steps=600", "ppo.ent_anneal_to_env_steps=600"])
