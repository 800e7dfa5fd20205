"""The third-party requirements of some of the project's parts, from their pyproject.toml files.

    python3 deploy/requirements.py 'bindings[puffer]' services/common services/api > requirements.txt

Each argument is a part's directory with optional extras. A dependency on another part of the
project (prospector-engine[puffer], ...) is followed into that part, with its extras; everything
else is printed once, as written. The build-system requirements of the parts come too, so the
parts themselves then install with `pip install --no-deps --no-build-isolation` and no network.

The images install these first, in a layer of their own that only a pyproject change redoes
(torch, several GB, among them); the project's sources change far more often.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("bindings", "services/common", "services/rpc", "services/api", "services/trainer",
         "services/evaluator", "services/stack")
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*(.*)$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def load(part: str) -> dict:
    with open(ROOT / part / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def part_names() -> dict[str, str]:
    """distribution name -> part directory, for every part whose pyproject.toml is here."""
    names = {}
    for part in PARTS:
        if (ROOT / part / "pyproject.toml").is_file():
            names[normalize(load(part)["project"]["name"])] = part
    return names


def requirements(wanted: list[str]) -> list[str]:
    parts = part_names()
    seen: set[tuple[str, str]] = set()
    out: list[str] = []

    def add(line: str) -> None:
        if line not in out:
            out.append(line)

    def visit(part: str, extras: set[str]) -> None:
        for extra in {""} | extras:
            if (part, extra) in seen:
                continue
            seen.add((part, extra))
            data = load(part)
            for line in data.get("build-system", {}).get("requires", []):
                add(line)
            project = data["project"]
            lines = project.get("dependencies", []) if not extra else \
                project.get("optional-dependencies", {}).get(extra)
            if lines is None:
                raise SystemExit(f"{part}: no extra {extra!r}")
            for line in lines:
                m = _REQ.match(line)
                if not m:
                    raise SystemExit(f"{part}: cannot read requirement {line!r}")
                name, inner = normalize(m.group(1)), m.group(2)
                if name in parts:
                    visit(parts[name], {e.strip() for e in (inner or "").split(",") if e.strip()})
                else:
                    add(line)

    for arg in wanted:
        m = re.match(r"^([^\[]+)(?:\[([^\]]*)\])?$", arg)
        if not m or m.group(1).rstrip("/") not in PARTS:
            raise SystemExit(f"not a part of the project: {arg!r} (one of {', '.join(PARTS)})")
        visit(m.group(1).rstrip("/"), {e.strip() for e in (m.group(2) or "").split(",") if e.strip()})
    return out


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    print("\n".join(requirements(sys.argv[1:])))
