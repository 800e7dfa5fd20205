"""docker-compose.yml as the launcher reads it: services, their commands, variables.

    compose = Compose.load()                       # the file at the repository root
    compose.command("trainer", os.environ)         # ["prospector", "train", "--config", "demo", ...]
    compose.variables()                            # {"PROSPECTOR_TRAIN_CONFIG": "demo", ...}

Interpolation follows Compose's rules for what this file uses: ${VAR},
${VAR:-default} (default when unset or empty), ${VAR-default} (default when
unset) and $$ for a literal dollar.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

# The services built from this repository's image (the rest are stock images).
APP_SERVICES = ("trainer", "evaluator", "api")

_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """text with every $VAR / ${VAR[:-default]} replaced from env, the way Compose does."""

    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        value = env.get(name)
        op, default = m.group(3), m.group(4) or ""
        if op == ":-" and not value:
            return default
        if op == "-" and value is None:
            return default
        return value or ""

    return _VAR.sub(one, text)


def variables_in(value: Any) -> dict[str, str | None]:
    """Every variable a (nested) value refers to, with its default (None if it has none)."""
    found: dict[str, str | None] = {}
    if isinstance(value, str):
        for m in _VAR.finditer(value):
            if not m.group(1):
                found[m.group(2) or m.group(5)] = m.group(4) if m.group(3) else None
    elif isinstance(value, Mapping):
        for v in value.values():
            found.update(variables_in(v))
    elif isinstance(value, list | tuple):
        for v in value:
            found.update(variables_in(v))
    return found


@dataclass(frozen=True)
class Compose:
    data: dict[str, Any]
    path: Path = COMPOSE_FILE

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Compose:
        p = Path(path) if path is not None else COMPOSE_FILE
        with open(p, encoding="utf-8") as f:
            data = yaml.safe_load(f)  # the safe loader resolves the `<<: *app` merge keys
        if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
            raise ValueError(f"{p}: not a compose file (no services)")
        return cls(data, p)

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.data["services"]

    def service(self, name: str) -> dict[str, Any]:
        try:
            return self.services[name]
        except KeyError:
            raise KeyError(f"{self.path} has no service {name!r}") from None

    def command(self, name: str, env: Mapping[str, str]) -> list[str]:
        """The service's command as an argument list, variables filled from env."""
        command = self.service(name).get("command")
        if isinstance(command, str):  # compose splits a string command like a shell would
            import shlex

            command = shlex.split(command)
        if not command:
            raise ValueError(f"{self.path}: service {name!r} has no command")
        return [interpolate(str(arg), env) for arg in command]

    def environment(self, name: str) -> dict[str, str | None]:
        """The service's environment block (None: passed through from the host)."""
        env = self.service(name).get("environment") or {}
        if isinstance(env, list):  # ["KEY=value", "KEY"] form
            env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
        return {k: None if v is None else str(v) for k, v in env.items()}

    def restart_policy(self, name: str) -> str:
        return str(self.service(name).get("restart", "no"))

    def variables(self) -> dict[str, str | None]:
        """Every ${VAR} the file uses, with its default."""
        return variables_in(self.data)
