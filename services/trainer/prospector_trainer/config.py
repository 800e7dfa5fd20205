"""The trainer's configuration: one TOML file plus `--set key=value` overrides.

    [run]   total_env_steps, window_env_steps, seed, data_dir, wandb_mode, device, progress
    [vec]   num_envs, num_workers, engine_threads
    [policy] kind (mlp | lstm), hidden_size, action_masking
    [ppo]   PuffeRL's hyper-parameters (learning_rate, gamma, ..., bptt_horizon, minibatch_size)
    [env]   prospector.spec.EnvConfig fields, plus `curriculum = 1..5` as a base for the switches,
            plus an optional `schedule`: a list of {from_env_steps = N, <env keys>} applied on
            top of the base from that env step on (a curriculum; see env_at)

Overrides use dotted keys (`ppo.learning_rate=3e-4`, `env.pirates=false`,
`policy.kind=lstm`); the value is read as a TOML value, and a bare word that
is not one (`lstm`) is taken as a string. Every key is checked against the
dataclasses below, so a typo is an error, not a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prospector import spec
from prospector.spec import EnvConfig
from prospector_common.curriculum import check_schedule, env_config_at, env_config_from

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


class ConfigError(ValueError):
    """A config file or override that does not fit TrainConfig."""


@dataclass
class RunConfig:
    total_env_steps: int = 200_000_000
    window_env_steps: int = 10_000_000
    seed: int = 1
    data_dir: str = ""            # "" -> the shared settings' data dir ($PROSPECTOR_DATA_DIR or ./runs)
    # "" -> the shared settings' mode: online when WANDB_API_KEY is set, else offline
    # (or $WANDB_MODE). online | offline | disabled force it; online without a key runs offline.
    wandb_mode: str = ""
    device: str = "cpu"
    progress: str = "bar"         # bar (rich progress bar) | dashboard (PuffeRL's) | none
    # A policy file (a run's checkpoint, or models/ppo-pretrained/policy.pt) whose weights a new
    # run starts from instead of random ones; it must have the run's policy shape. "": none.
    init_weights: str = ""


@dataclass
class VecConfig:
    # Agents (games) stepped per C call. PuffeRL needs num_envs * bptt_horizon = batch size.
    num_envs: int = 4096
    # 1: every game in this process, stepped by the engine's own native threads
    # (the only mode whose episode log the trainer can read; see loop.py).
    num_workers: int = 1
    # 1 engine thread + 1 torch thread: on 2 shared cores (evaluator, API, tests running too)
    # spinning thread pools collapse; 2 + 2 is faster only on an otherwise idle machine.
    engine_threads: int = 1


@dataclass
class PolicyConfig:
    kind: str = "mlp"             # mlp | lstm
    hidden_size: int = 128
    action_masking: bool = False  # mask invalid actions with the engine's mask (obs grows by 69)
    # Never CASH_OUT: ending early never adds profit (the episode's end at time_max keeps
    # the credits too), but a fresh policy learns to cash out at once to avoid every cost.
    forbid_cash_out: bool = False
    # Never JETTISON (36..41): with masking, a fresh policy's random walk dumps its cargo
    # within a few steps (up to 6 of ~35 valid actions in the field are jettisons), so it
    # almost never carries a load home to discover the sale.
    forbid_jettison: bool = False
    # Never take a valid action that changes nothing (policy/noops.py: select the selected
    # asteroid, sell an unsellable remainder, hold or dock with nothing to cool): else the
    # argmax policy repeats one of them forever where it is unsure (LEARNING.md, E9).
    mask_noops: bool = False
    # Never take an action that only costs in this state (noops.idle_actions: LISTEN at the
    # station, fuel with a full tank, cooldown when cold, repairs when whole, ...): else the
    # argmax policy pays for one of them at the station forever (LEARNING.md, E19).
    mask_idle: bool = False


@dataclass
class PPOConfig:
    """PuffeRL's train config (see pufferlib/pufferl.py). Batch size is num_envs * bptt_horizon."""

    learning_rate: float = 0.0025
    anneal_lr: bool = True        # cosine over total_env_steps
    gamma: float = 0.995
    gae_lambda: float = 0.9
    clip_coef: float = 0.2
    vf_coef: float = 2.0
    vf_clip_coef: float = 0.2
    ent_coef: float = 0.01
    # Entropy schedule: from ent_anneal_from_env_steps on, ent_coef falls linearly to
    # ent_coef_final at ent_anneal_to_env_steps (0: total_env_steps) and stays there (set per
    # window); a negative final keeps it constant.
    ent_coef_final: float = -1.0
    ent_anneal_from_env_steps: int = 0
    ent_anneal_to_env_steps: int = 0
    max_grad_norm: float = 1.5
    update_epochs: int = 1
    bptt_horizon: int = 64
    minibatch_size: int = 32768
    max_minibatch_size: int = 32768
    optimizer: str = "adam"
    adam_beta1: float = 0.95
    adam_beta2: float = 0.999
    adam_eps: float = 1e-12
    # PuffeRL's prioritized replay of segments: alpha 0 and beta0 1 give plain uniform PPO.
    prio_alpha: float = 0.0
    prio_beta0: float = 1.0
    vtrace_rho_clip: float = 1.0
    vtrace_c_clip: float = 1.0
    # PuffeRL clamps every reward to [-1, 1] before learning. The shaped reward
    # is in credits / 1000, so one good sale (tens of thousands of credits) is
    # 10..100 and would be clamped to 1, the same as a tiny sale. Rewards are
    # multiplied by reward_scale in the env first (see env.py).
    reward_scale: float = 0.02
    # The episode's time budget is observed (obs[6]), so the time-out is a true
    # end of the time-augmented game: treat truncations as terminals (PuffeRL
    # ignores truncations and would bootstrap across the episode boundary).
    truncation_as_terminal: bool = True
    torch_threads: int = 1
    # Collect the next batch on a second thread while learning from this one (overlap.py):
    # both cores busy instead of taking turns; each batch is acted by the weights of one
    # update before. mlp policy, single process only.
    overlap: bool = False
    # With overlap: serial (collect, then learn) until the run reaches this many env steps,
    # overlapped after. The one update of lag slows learning most while the policy changes
    # fastest, early in the curriculum (LEARNING.md, E9a and E16).
    overlap_from_env_steps: int = 0
    compile: bool = False
    precision: str = "float32"


@dataclass
class TrainConfig:
    run: RunConfig = field(default_factory=RunConfig)
    vec: VecConfig = field(default_factory=VecConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    env: dict = field(default_factory=dict)  # EnvConfig fields (+ optional "curriculum")

    # ---- derived --------------------------------------------------------------
    @property
    def env_config(self) -> EnvConfig:
        """The env config of the run's start (the base of any schedule)."""
        return env_config_from(self.env)

    def env_config_at(self, env_steps: int | float) -> EnvConfig:
        """The env config new episodes get once the run reaches env_steps (see env_at)."""
        return env_config_at(self.env, env_steps)

    @property
    def batch_size(self) -> int:
        return self.vec.num_envs * self.ppo.bptt_horizon

    @property
    def data_dir(self) -> Path:
        if self.run.data_dir:
            return Path(self.run.data_dir).expanduser().resolve()
        from prospector_common.settings import get_settings

        return get_settings().data_dir

    def ent_coef_at(self, env_steps: int | float) -> float:
        """The entropy coefficient at env_steps (ppo.ent_coef_final's linear schedule)."""
        o = self.ppo
        end = o.ent_anneal_to_env_steps or self.run.total_env_steps
        if o.ent_coef_final < 0 or env_steps <= o.ent_anneal_from_env_steps:
            return o.ent_coef
        frac = min(1.0, (env_steps - o.ent_anneal_from_env_steps) / max(1, end - o.ent_anneal_from_env_steps))
        return o.ent_coef + frac * (o.ent_coef_final - o.ent_coef)

    @property
    def n_windows(self) -> int:
        return -(-self.run.total_env_steps // self.run.window_env_steps)

    def validate(self) -> TrainConfig:
        r, v, p, o = self.run, self.vec, self.policy, self.ppo
        positive = {"run.total_env_steps": r.total_env_steps, "run.window_env_steps": r.window_env_steps,
                    "vec.num_envs": v.num_envs, "vec.num_workers": v.num_workers,
                    "vec.engine_threads": v.engine_threads, "policy.hidden_size": p.hidden_size,
                    "ppo.bptt_horizon": o.bptt_horizon, "ppo.minibatch_size": o.minibatch_size,
                    "ppo.update_epochs": o.update_epochs, "ppo.torch_threads": o.torch_threads}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if p.kind not in ("mlp", "lstm"):
            raise ConfigError(f"policy.kind must be 'mlp' or 'lstm', got {p.kind!r}")
        if r.progress not in ("bar", "dashboard", "none"):
            raise ConfigError(f"run.progress must be bar, dashboard or none, got {r.progress!r}")
        if r.wandb_mode not in ("", "offline", "online", "disabled"):
            raise ConfigError(f"run.wandb_mode must be offline, online, disabled or \"\" (from the environment), "
                              f"got {r.wandb_mode!r}")
        if r.device != "cpu":
            raise ConfigError("run.device: only 'cpu' is supported on this machine")
        if v.num_workers != 1:
            raise ConfigError(
                "vec.num_workers must be 1: the trainer aggregates window metrics in bulk from the engine's "
                "episode log, which only an in-process env exposes (PufferLib Multiprocessing also "
                "busy-waits, see README); use vec.engine_threads for parallel stepping")
        if self.batch_size < o.minibatch_size:
            raise ConfigError(f"batch size num_envs*bptt_horizon = {self.batch_size} is smaller than "
                              f"ppo.minibatch_size {o.minibatch_size}")
        if o.ent_anneal_to_env_steps and o.ent_anneal_to_env_steps <= o.ent_anneal_from_env_steps:
            raise ConfigError(f"ppo.ent_anneal_to_env_steps {o.ent_anneal_to_env_steps} must be after "
                              f"ppo.ent_anneal_from_env_steps {o.ent_anneal_from_env_steps} (or 0: the run's end)")
        if o.minibatch_size % o.bptt_horizon:
            raise ConfigError(f"ppo.minibatch_size {o.minibatch_size} must be a multiple of bptt_horizon {o.bptt_horizon}")
        if o.reward_scale <= 0:
            raise ConfigError(f"ppo.reward_scale must be > 0, got {o.reward_scale}")
        try:
            if "schedule" in self.env:
                check_schedule(self.env["schedule"])
                for entry in self.env["schedule"]:
                    self.env_config_at(entry["from_env_steps"])
            self.env_config
        except ConfigError:
            raise
        except (TypeError, ValueError) as e:  # ScheduleError included
            raise ConfigError(f"env: {e}") from None
        return self

    # ---- (de)serialization -------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        cfg = cls()
        for section, values in d.items():
            if section == "env":
                if not isinstance(values, dict):
                    raise ConfigError("[env] must be a table")
                cfg.env = dict(values)
                continue
            if not hasattr(cfg, section) or not dataclasses.is_dataclass(getattr(cfg, section)):
                raise ConfigError(f"unknown config section [{section}]; known: run, vec, policy, ppo, env")
            if not isinstance(values, dict):
                raise ConfigError(f"[{section}] must be a table")
            for key, value in values.items():
                _set_field(getattr(cfg, section), section, key, value)
        return cfg.validate()


def policy_kwargs(cfg: TrainConfig) -> dict:
    """make_policy arguments of a TrainConfig (stored in every checkpoint)."""
    return {"kind": cfg.policy.kind, "hidden_size": cfg.policy.hidden_size,
            "action_masking": cfg.policy.action_masking, "forbid_cash_out": cfg.policy.forbid_cash_out,
            "forbid_jettison": cfg.policy.forbid_jettison, "mask_noops": cfg.policy.mask_noops,
            "mask_idle": cfg.policy.mask_idle}


def _field_type(obj, key: str):
    hints = typing.get_type_hints(type(obj))
    return hints[key]


def _coerce(value: Any, typ, where: str):
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if typ is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 1e6 in an override
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if typ is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if isinstance(typ, types.UnionType):  # not used yet
        return value
    return value


def _set_field(obj, section: str, key: str, value: Any) -> None:
    names = [f.name for f in dataclasses.fields(obj)]
    if key not in names:
        raise ConfigError(f"unknown key {section}.{key}; [{section}] has: {', '.join(names)}")
    setattr(obj, key, _coerce(value, _field_type(obj, key), f"{section}.{key}"))


def parse_override(text: str) -> tuple[list[str], Any]:
    """'ppo.learning_rate=3e-4' -> (['ppo', 'learning_rate'], 0.0003)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not KEY=VALUE")
    key, raw = text.split("=", 1)
    path = key.strip().split(".")
    if len(path) != 2 or not all(path):
        raise ConfigError(f"override key {key!r} must be SECTION.KEY (e.g. ppo.learning_rate)")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word: lstm, offline, ...
    return path, value


def apply_overrides(d: dict, overrides: list[str] | None) -> dict:
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in d.items()}
    for text in overrides or []:
        (section, key), value = parse_override(text)
        d.setdefault(section, {})[key] = value
    return d


def resolve_path(path: str | os.PathLike) -> Path:
    """A config path as given, or the name of a file in services/trainer/prospector_trainer/configs (tiny, demo, default)."""
    p = Path(path)
    if p.exists():
        return p
    for candidate in (CONFIG_DIR / p, CONFIG_DIR / f"{p}.toml"):
        if candidate.exists():
            return candidate
    raise ConfigError(f"config file not found: {path}")


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """TrainConfig from a TOML file (None: the defaults of this module) plus overrides."""
    d: dict = {}
    if path is not None:
        p = resolve_path(path)
        try:
            d = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: {e}") from None
    return TrainConfig.from_dict(apply_overrides(d, overrides))


def spec_version() -> int:
    return spec.SPEC_VERSION
