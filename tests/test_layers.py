"""The layers point down only, and the lower parts stand alone.

    harness (prospector_bench) and tests       may import anything
    services: trainer, evaluator, api, stack   -> prospector_common, prospector_rpc, prospector
    shared: prospector_common, prospector_rpc  -> prospector
    engine: prospector                         -> nothing of the project

1. The import graph, read from the source with `ast` (tests/layers_graph.py): no arrow
   up or sideways, and no import of a part the importer's pyproject.toml does not need.
2. `python -X importtime -m prospector parity --help` loads no web framework, database,
   gRPC, torch or service.
3. (layers) The engine alone: a fresh virtualenv with `pip install bindings` (a real wheel,
   not editable) runs Gymnasium, the reference, bots and parity, and names the missing
   part for the others' commands.
4. (layers) The API alone: bindings, common, rpc and api, without torch, answers /healthz.

scripts/layers_report.py prints the same graph for any checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import layers_graph
import pytest

ROOT = Path(__file__).resolve().parent.parent

# ---- 1. the import graph -----------------------------------------------------------------------


def test_every_package_folder_exists():
    """The graph below is read from these folders: a moved package must move here too."""
    missing = [f"{pkg}: {folder}" for pkg, folder in layers_graph.PACKAGES.items()
               if not (ROOT / folder / "__init__.py").is_file()]
    assert not missing, "package folders not found (update tests/layers_graph.py PACKAGES):\n" + "\n".join(missing)


def test_imports_point_down_only():
    arrows = layers_graph.collect(ROOT)
    assert len(arrows) > 200, f"only {len(arrows)} imports found: is the walker reading the tree?"
    bad = layers_graph.violations(arrows)
    assert not bad, (f"{len(bad)} import(s) point up or sideways (importer -> imported):\n  "
                     + "\n  ".join(bad))


def test_imports_of_other_parts_are_declared_dependencies():
    """An import of another part that the importer's pyproject.toml does not depend on (directly or
    through a part it depends on) breaks `pip install <that part>` alone."""
    bad = layers_graph.undeclared(ROOT)
    assert not bad, ("import(s) of a part that is not a dependency of the importing part:\n  "
                     + "\n  ".join(bad))


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_the_checker_catches_arrows(tmp_path):
    """A small synthetic tree: every kind of forbidden arrow is reported, the allowed ones are not."""
    t = tmp_path
    for folder in layers_graph.PACKAGES.values():
        _write(t, f"{folder}/__init__.py", "")
    P = layers_graph.PACKAGES
    # forbidden
    _write(t, f"{P['prospector']}/engine.py", "import numpy\nfrom prospector_common import ids\n")
    _write(t, f"{P['prospector']}/lazy.py", """
        import importlib
        def f():
            importlib.import_module("prospector_stack.cli")
    """)
    _write(t, f"{P['prospector_common']}/x.py", """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from prospector_api.app import create_app
        def g():
            import prospector_rpc.server
    """)
    _write(t, f"{P['prospector_api']}/a.py", "from prospector_trainer.loop import run\n")
    _write(t, f"{P['prospector_bench']}/env.py", "def h():\n    from prospector_trainer import config\n")
    _write(t, f"{P['prospector_bench']}/cli.py", "from . import api\nfrom . import parity\n")
    _write(t, f"{P['prospector_bench']}/api.py", "import prospector_api.app\n")  # allowed: a service bench
    _write(t, f"{P['prospector_bench']}/parity.py", "from prospector import spec\n")  # allowed
    # allowed
    _write(t, f"{P['prospector_api']}/b.py", "from . import a\nfrom .a import run\nimport prospector_common.ids\n"
                                             "from prospector_rpc import pb\nimport fastapi\n")
    _write(t, f"{P['prospector_trainer']}/loop.py", "from prospector.engine import Engine\n")
    _write(t, f"{P['prospector_rpc']}/gen/__init__.py", "")
    _write(t, f"{P['prospector_rpc']}/gen/stub.py", "import prospector_api\n")  # generated: skipped

    bad = layers_graph.check(t)
    arrows = sorted(line.split("  (")[0] for line in bad)
    assert arrows == sorted([
        "prospector.engine -> prospector_common",
        "prospector.lazy -> prospector_stack.cli",
        "prospector_common.x -> prospector_api.app",
        "prospector_common.x -> prospector_rpc.server",
        "prospector_api.a -> prospector_trainer.loop",
        "prospector_bench.env -> prospector_trainer",
        "prospector_bench.cli -> prospector_bench.api",
    ]), "\n".join(bad)
    text = "\n".join(bad)
    assert "inside a function" in text and "under TYPE_CHECKING" in text and "importlib" in text
    g = layers_graph.graph(layers_graph.collect(t))
    assert g["prospector_api"] == {"prospector_trainer": 1, "prospector_common": 1, "prospector_rpc": 1}


def test_the_declared_dependencies_check_catches_an_import(tmp_path):
    """prospector_rpc may import the engine by the layers, but its distribution does not depend on it;
    the API depends on prospector-common but not on its `policy` extra (torch): the numpy serving
    module is fine, the torch Actor is not."""
    t = tmp_path
    for pkg in ("prospector", "prospector_common", "prospector_rpc", "prospector_api"):
        _write(t, f"{layers_graph.PACKAGES[pkg]}/__init__.py", "")
    _write(t, "bindings/pyproject.toml", '[project]\nname = "prospector-engine"\ndependencies = ["numpy"]\n')
    _write(t, "services/common/pyproject.toml", '[project]\nname = "prospector-common"\n'
           'dependencies = ["prospector-engine", "redis>=5"]\n[project.optional-dependencies]\npolicy = ["torch"]\n')
    _write(t, "services/rpc/pyproject.toml", '[project]\nname = "prospector-rpc"\ndependencies = ["grpcio"]\n')
    _write(t, "services/api/pyproject.toml", '[project]\nname = "prospector-api"\n'
           'dependencies = ["prospector-common", "prospector-rpc"]\n')
    _write(t, "services/common/prospector_common/replay.py", "from prospector import spec\n")
    _write(t, "services/common/prospector_common/policy/__init__.py", "")
    _write(t, "services/common/prospector_common/policy/actor.py", "import torch\n")
    _write(t, "services/common/prospector_common/policy/serving.py", "import numpy\n")
    _write(t, "services/rpc/prospector_rpc/convert.py", "from prospector.spec import EnvConfig\n")
    _write(t, "services/api/prospector_api/app.py", "from prospector import spec\nfrom prospector_rpc import convert\n"
           "from prospector_common.policy.serving import NumpyPolicy\n"
           "def f():\n    from prospector_common.policy.actor import Actor\n")
    assert layers_graph.check(t) == []
    bad = layers_graph.undeclared(t)
    assert sorted(b.split("  (")[0] for b in bad) == ["prospector_api.app -> prospector_common.policy.actor",
                                                      "prospector_rpc.convert -> prospector.spec"], bad
    assert any("prospector-rpc does not depend on prospector-engine]" in b for b in bad), bad
    assert any("prospector-api does not depend on prospector-common[policy]" in b for b in bad), bad


# ---- 2. what `prospector parity --help` loads ----------------------------------------------------

FORBIDDEN_AT_STARTUP = {"fastapi", "starlette", "uvicorn", "uvloop", "sqlalchemy", "redis", "grpc", "torch",
                        "wandb", "pydantic", "pufferlib", *layers_graph.SHARED, *layers_graph.SERVICES}


_clean_env = layers_graph.clean_env


@pytest.mark.parametrize("argv", [["parity", "--help"], ["bots", "--help"], ["--help"], ["bench", "env", "--help"]],
                         ids=lambda a: " ".join(a))
def test_engine_commands_load_no_service(argv, tmp_path):
    """`bench env --help` builds every bench target's parser (bench/prospector_bench/cli.py), so it also
    checks that no benchmark module imports a service or a heavy library at module level."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "prospector", *argv],
                          check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=_clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "usage: prospector" in proc.stdout
    loaded = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "imported package" not in line:
            loaded.add(line.rsplit("|", 1)[1].strip())
    assert len(loaded) > 20, f"-X importtime printed no imports?\n{proc.stderr[-2000:]}"
    heavy = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN_AT_STARTUP)
    assert not heavy, f"`prospector {' '.join(argv)}` loads: {', '.join(heavy)}"


# ---- 3 and 4. fresh virtualenvs with one part each -----------------------------------------------
# (the virtualenv helpers live in tests/layers_graph.py: scripts/layers_report.py --sizes uses them too)


def _tail(text: str, n: int = 1500) -> str:
    """The end of a command's output; of a traceback, its last lines only."""
    lines = text.strip().splitlines()
    if any(line.startswith("Traceback") for line in lines):
        return "\n".join(["  (traceback) ..."] + lines[-4:])
    return text[-n:]


def _failures(title: str, problems: list[str]) -> str:
    """One message for all the problems; the same detail under several commands is shown once."""
    groups: dict[str, list[str]] = {}
    for problem in problems:
        head, _, detail = problem.partition("\n")
        groups.setdefault(detail, []).append(head)
    parts = []
    for detail, heads in groups.items():
        parts.append("\n".join(f"- {h}" for h in heads) + (f"\n{textwrap.indent(detail, '    ')}" if detail else ""))
    return f"{title}:\n" + "\n".join(parts)


def _build(tmp_path: Path, parts: list[str], extra: list[str] = ()) -> tuple[layers_graph.Venv, float, float]:
    try:
        return layers_graph.build_venv(ROOT, tmp_path, parts, list(extra))
    except layers_graph.VenvError as exc:
        pytest.fail(str(exc), pytrace=False)


def _show(capsys, line: str) -> None:
    """Print past pytest's capture: visible in a plain run (under xdist the figures stay in the
    junit XML, through record_property)."""
    with capsys.disabled():
        print(f"\n[layers] {line}")


# Libraries the engine alone must never pull in.
NOT_IN_ENGINE_VENV = ("fastapi", "sqlalchemy", "redis", "grpcio", "wandb", "torch", "psycopg", "uvicorn",
                      "starlette", "pydantic", "pufferlib-core", "prospector-common", "prospector-rpc",
                      "prospector-api", "prospector-trainer", "prospector-evaluator", "prospector-stack")

ENGINE_SCRIPT = r"""
import importlib, json, pkgutil, sys
import gymnasium
import numpy as np

out = {}
try:
    gymnasium.make("Prospector-v0")
    out["registered_by_gymnasium_alone"] = True
except Exception as exc:
    out["registered_by_gymnasium_alone"] = False
import prospector
try:
    gymnasium.make("Prospector-v0")
    out["registered_by_import_prospector"] = True
except Exception:
    out["registered_by_import_prospector"] = False
out["prospector_file"] = prospector.__file__

# the module-qualified id imports the module itself
env = gymnasium.make("prospector.gym_env:Prospector-v0")
env.reset(seed=1)
env.close()

import prospector.gym_env  # registers Prospector-v0
env = gymnasium.make("Prospector-v0")
obs, info = env.reset(seed=7)
total, steps, done = 0.0, 0, False
rng = np.random.default_rng(0)
while not done and steps < 300:
    valid = np.flatnonzero(info["action_mask"])
    obs, r, term, trunc, info = env.step(int(rng.choice(valid)))
    total += r; steps += 1; done = term or trunc
assert obs.shape == env.observation_space.shape and env.observation_space.contains(obs), obs
out["gym_steps"] = steps

# the reference agrees with the C engine, step by step (valid actions without CASH_OUT, which
# would end each episode at once), and on the episode metrics
from prospector import spec
from prospector.engine import Engine
from prospector.reference import ReferenceEnv
mismatches = []
compared = 0
for seed in (0, 1, 2):
    c, ref = Engine(seed=seed), ReferenceEnv(seed=seed)
    rng = np.random.default_rng(seed)
    for t in range(2000):
        if not np.array_equal(c.observation(), ref.observation()) or not np.array_equal(
                c.action_mask(), ref.action_mask()):
            mismatches.append((seed, t, "observation or mask")); break
        if c.done:
            if c.metrics() != ref.metrics():
                mismatches.append((seed, t, "episode metrics"))
            break
        valid = [a for a in np.flatnonzero(c.action_mask()) if a != spec.A_CASH_OUT] or [0]
        a = int(rng.choice(valid))
        rc, rr = c.step(a), ref.step_raw(a)
        compared += 1
        if tuple(rc) != tuple(rr):
            mismatches.append((seed, t, f"{rc} != {rr}")); break
out["reference_steps_compared"] = compared
out["reference_mismatches"] = mismatches

# every module of the engine (bar the puffer extra) and the harness's engine-level modules import
skip = {"prospector.puffer_env", "prospector.__main__", "prospector._build_engine"}
for m in pkgutil.walk_packages(prospector.__path__, "prospector."):
    if m.name not in skip:
        importlib.import_module(m.name)
import prospector_bench
bench = []
for name in ("cli", "env", "parity", "machine"):
    if importlib.util.find_spec(f"prospector_bench.{name}") is not None:
        importlib.import_module(f"prospector_bench.{name}")
        bench.append(name)
out["bench_modules"] = bench
out["loaded"] = sorted({k.split(".")[0] for k in sys.modules})
print(json.dumps(out))
"""


@pytest.mark.layers
def test_the_engine_stands_alone(tmp_path, capsys, record_property):
    venv, seconds, size = _build(tmp_path, layers_graph.ENGINE_PARTS)
    record_property("engine_venv_mb", round(size, 1))
    _show(capsys, f"engine alone: pip install bindings {seconds:.0f} s, venv {size:.0f} MB (no .pyc)")

    problems: list[str] = []
    installed = venv.installed()
    unwanted = sorted(set(NOT_IN_ENGINE_VENV) & installed)
    if unwanted:
        problems.append(f"pip list holds {unwanted}")
    if "prospector-engine" not in installed:
        problems.append(f"prospector-engine not installed: {sorted(installed)}")

    out = venv.python_json(ENGINE_SCRIPT)
    if not out["prospector_file"].startswith(str(venv.path)):
        problems.append(f"prospector imported from {out['prospector_file']}, not the venv")
    if out["reference_mismatches"] or out["reference_steps_compared"] < 500:
        problems.append(f"reference vs C engine: {out['reference_steps_compared']} steps compared, "
                        f"mismatches {out['reference_mismatches']}")
    heavy = sorted(set(out["loaded"]) & FORBIDDEN_AT_STARTUP)
    if heavy:
        problems.append(f"importing the engine's modules loaded {heavy}")
    # gymnasium.make("Prospector-v0") needs `import prospector.gym_env` (or the id
    # "prospector.gym_env:Prospector-v0"): gymnasium 1.x reads no plugin entry points
    _show(capsys, f"gymnasium.make('Prospector-v0') with gymnasium alone: {out['registered_by_gymnasium_alone']}, "
                  f"after `import prospector`: {out['registered_by_import_prospector']}, after "
                  f"`import prospector.gym_env`: True; reference = C engine over "
                  f"{out['reference_steps_compared']} steps")

    # the engine's commands work ...
    bots = venv.run("prospector", "bots", "--episodes", "2", "--json")
    if bots.returncode != 0:
        problems.append(f"prospector bots --episodes 2 --json: exit {bots.returncode}\n{_tail(bots.stderr)}")
    else:
        result = json.loads(bots.stdout)
        if not result or any(v.get("episodes") != 2 for v in result.values() if isinstance(v, dict)):
            problems.append(f"prospector bots --json: unexpected output {bots.stdout[:500]}")
    parity = venv.run("prospector", "parity", "--seeds", "0:3")
    if parity.returncode != 0 or "PARITY OK" not in parity.stdout:
        problems.append(f"prospector parity --seeds 0:3: exit {parity.returncode}\n{parity.stdout[-1500:]}"
                        f"{_tail(parity.stderr)}")
    for argv in (["--help"], ["bench", "env", "--help"]):
        proc = venv.run("prospector", *argv)
        if proc.returncode != 0:
            problems.append(f"prospector {' '.join(argv)}: exit {proc.returncode}\n{_tail(proc.stderr)}")

    # ... and the other parts' commands name the part to install
    for argv, part in ((["train", "--help"], "prospector-trainer"),
                       (["evaluate", "--help"], "prospector-evaluator"),
                       (["api", "--help"], "prospector-api"),
                       (["up", "--help"], "prospector-stack"),
                       (["replay", "--help"], "prospector-common"),
                       (["bench", "api"], "prospector-api"),
                       (["bench", "train"], "prospector-trainer"),
                       (["bench", "eval"], "prospector-evaluator")):
        proc = venv.run("prospector", *argv)
        if proc.returncode == 0 or part not in proc.stderr or "Traceback" in proc.stderr:
            problems.append(f"prospector {' '.join(argv)}: exit {proc.returncode}; expected a non-zero exit "
                            f"naming {part}\n{_tail(proc.stderr)}")
    if problems:
        pytest.fail(_failures("the engine alone", problems), pytrace=False)
    shutil.rmtree(venv.path, ignore_errors=True)  # passed: free the disk (a failed one stays to look at)


API_SCRIPT = r"""
import importlib, importlib.util, json, pkgutil, sys, warnings
warnings.simplefilter("ignore")
out = {"torch_spec": importlib.util.find_spec("torch") is not None}
import prospector_api.app
import prospector_api, prospector_rpc
for pkg in (prospector_api, prospector_rpc):
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(m.name)
from starlette.testclient import TestClient
app = prospector_api.app.create_app()
client = TestClient(app)  # not entered: no lifespan, so no Redis or catalog is needed
r = client.get("/healthz")
out["healthz"] = [r.status_code, r.json()]
out["api_file"] = prospector_api.__file__
import prospector_rpc.gen.prospector_pb2_grpc as stubs
out["gen_file"] = stubs.__file__
out["loaded"] = sorted({k.split(".")[0] for k in sys.modules})
print(json.dumps(out))
"""

NOT_IN_API_VENV = ("torch", "pufferlib-core", "wandb", "prospector-trainer", "prospector-evaluator",
                   "prospector-stack")


@pytest.mark.layers
def test_the_api_stands_alone_without_torch(tmp_path, capsys, record_property):
    venv, seconds, size = _build(tmp_path, layers_graph.API_PARTS, layers_graph.API_EXTRA)
    record_property("api_venv_mb", round(size, 1))
    _show(capsys, f"API alone: pip install bindings common rpc api (+httpx) {seconds:.0f} s, "
                  f"venv {size:.0f} MB (no .pyc)")

    problems: list[str] = []
    installed = venv.installed()
    unwanted = sorted(set(NOT_IN_API_VENV) & installed)
    if unwanted:
        problems.append(f"pip list holds {unwanted}")
    out = venv.python_json(API_SCRIPT)
    if out["torch_spec"]:
        problems.append("torch is importable")
    if out["healthz"] != [200, {"status": "ok"}]:
        problems.append(f"/healthz answered {out['healthz']}")
    if not out["api_file"].startswith(str(venv.path)):
        problems.append(f"prospector_api imported from {out['api_file']}, not the venv")
    if not out["gen_file"].startswith(str(venv.path)):
        problems.append(f"the generated gRPC code came from {out['gen_file']}, not the installed prospector-rpc")
    heavy = sorted(set(out["loaded"]) & {"torch", "pufferlib", "wandb", "prospector_trainer",
                                         "prospector_evaluator", "prospector_stack", "prospector_bench"})
    if heavy:
        problems.append(f"importing the API's modules loaded {heavy}")
    proc = venv.run("prospector", "api", "--help")
    if proc.returncode != 0 or "usage: prospector api" not in proc.stdout:
        problems.append(f"prospector api --help: exit {proc.returncode}\n{_tail(proc.stderr)}")
    proc = venv.run("prospector", "train", "--help")
    if proc.returncode == 0 or "prospector-trainer" not in proc.stderr or "Traceback" in proc.stderr:
        problems.append(f"prospector train --help: exit {proc.returncode}; expected a non-zero exit naming "
                        f"prospector-trainer\n{_tail(proc.stderr)}")
    if problems:
        pytest.fail(_failures("the API alone", problems), pytrace=False)
    shutil.rmtree(venv.path, ignore_errors=True)  # passed: free the disk (a failed one stays to look at)
