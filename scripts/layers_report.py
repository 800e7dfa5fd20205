#!/usr/bin/env python3
"""The project's import graph: which package imports which, how many times, and the arrows
that break the layers (engine <- shared <- services <- harness and tests).

    .venv/bin/python scripts/layers_report.py                    # this checkout
    .venv/bin/python scripts/layers_report.py --root /tmp/before # another one (before/after)
    .venv/bin/python scripts/layers_report.py --sizes            # also build the venvs, print sizes

--sizes builds fresh virtualenvs the way tests/test_layers.py does (non-editable installs,
no .pyc): the engine alone (bindings) and the API alone (bindings, services/common,
services/rpc, services/api, plus httpx). For a checkout from before the split (one
pyproject.toml at its root) it estimates the one install there was, `pip install <root>`,
from the files of those distributions as installed for the running Python (make setup's
.venv holds them all), instead of downloading torch and CUDA: the same estimate lands
within 1-2 MB of the real venvs of the split parts.
The graph is read with `ast` (nothing is imported); the logic is in tests/layers_graph.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))

import layers_graph


def _estimate(requirements: list[str]) -> str:
    r = layers_graph.installed_closure(sys.executable, requirements)
    missing = f"; not installed here: {', '.join(r['missing'])}" if r["missing"] else ""
    return f"{r['mb']:.0f} MB in {len(r['dists'])} distributions{missing}"


def sizes(root: Path) -> list[str]:
    lines = []
    if not (root / "bindings" / "pyproject.toml").is_file():
        # before the split: one distribution; building it would download torch and CUDA (GBs)
        lines.append(f"  `pip install <root>` (the one package there was), estimated from this Python's "
                     f"installed files: {_estimate(layers_graph.monolith_requirements(root))}")
        return lines
    with tempfile.TemporaryDirectory(prefix="layers-venvs-") as tmp:
        for name, parts, extra, reqs in (
                ("engine alone (bindings)", layers_graph.ENGINE_PARTS, [], ["prospector-engine"]),
                ("API alone (bindings common rpc api, +httpx)", layers_graph.API_PARTS, layers_graph.API_EXTRA,
                 ["prospector-api", *layers_graph.API_EXTRA])):
            print(f"building the venv: {name} ...", file=sys.stderr, flush=True)
            try:
                venv, seconds, mb = layers_graph.build_venv(root, Path(tmp) / name.split()[0], parts, extra)
            except layers_graph.VenvError as exc:
                lines.append(f"  {name}: FAILED\n{exc}")
                continue
            installed = venv.installed()
            heavy = sorted(installed & {"torch", "pufferlib-core", "wandb", "fastapi", "sqlalchemy", "grpcio",
                                        "redis", "psycopg", "uvicorn", "pydantic"})
            lines.append(f"  {name}: {mb:.0f} MB (no .pyc), {len(installed)} distributions, pip {seconds:.0f} s; "
                         f"of those: {', '.join(heavy) or '-'}")
            try:
                lines.append(f"    (the same estimated from this Python's installed files: {_estimate(reqs)})")
            except layers_graph.VenvError:
                pass
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=HERE, help="the checkout to read (default: this one)")
    p.add_argument("--sizes", action="store_true", help="also build the venvs and print their sizes (a minute or more)")
    args = p.parse_args(argv)
    root = args.root.resolve()
    print(layers_graph.report(root))
    if args.sizes:
        print("virtualenv sizes")
        print("\n".join(sizes(root)))
    return 1 if layers_graph.check(root) else 0


if __name__ == "__main__":
    sys.exit(main())
