"""cffi build script (API mode): compiles the C engine into `prospector._engine`.

`pip install .` / `pip install -e .` runs it through setup.py's `cffi_modules`;
`python bindings/prospector/_build_engine.py` builds the extension in place
(next to this file), which is what an editable install imports.

The cdef is read from core_c/include/prospector.h itself (see header_cdef), so
the binding follows the header as it changes; cffi checks struct layouts and
integer constants against the C compiler when it builds and loads the module.

The compile flags are part of the engine's contract: -ffp-contract=off (no
fused multiply-add) and no -ffast-math, so every floating-point operation is
the plain IEEE one the pure-Python reference performs, bit for bit. The
target CPU is PROSPECTOR_ENGINE_ARCH (default "native": wider vectors,
about 40 % faster here, and the same results since nothing is contracted or
reordered); an image built for other machines sets e.g. "x86-64-v2".
"""

import glob
import os
import re

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORE = os.path.join(ROOT, "core_c")
INCLUDE = os.path.join(CORE, "include")

ENGINE_ARCH = os.environ.get("PROSPECTOR_ENGINE_ARCH", "native")
COMPILE_ARGS = ["-std=c99", "-O3", f"-march={ENGINE_ARCH}", "-ffp-contract=off", "-fno-fast-math", "-pthread"]
LINK_ARGS = ["-pthread"]

HEADER = os.path.join(INCLUDE, "prospector.h")

_INT = re.compile(r"-?(0[xX][0-9a-fA-F]+|\d+)[uUlL]*")
_FLOAT = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?[fF]?")


def header_cdef(path: str = HEADER) -> str:
    """The cdef, derived from the public header so it can never drift from it.

    cffi parses the header's declarations as they are (enums, structs,
    functions, arrays sized by the constants). Preprocessor lines are rewritten:
    an integer #define stays a #define (cffi checks its value against the
    compiler), a floating-point #define becomes `static const double NAME;`
    (its value is read from the compiled module), the rest is dropped.
    """
    with open(path) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            lines.append(line)
            continue
        m = re.match(r"#\s*define\s+(\w+)\s+(.+)$", stripped)
        if not m:
            continue  # include guards, #include, #endif
        name, value = m.group(1), m.group(2).strip()
        if _INT.fullmatch(value):
            lines.append(f"#define {name} {value.rstrip('uUlL')}")
        elif _FLOAT.fullmatch(value):
            lines.append(f"static const double {name};")
        else:
            lines.append(f"#define {name} ...")
    return "\n".join(lines)


def make_ffibuilder(absolute_paths: bool = False) -> FFI:
    """The FFI builder of `prospector._engine`.

    setuptools (pip install) wants source paths relative to setup.py's
    directory, which is the working directory of the build; FFI.compile()
    builds from inside its tmpdir and needs absolute ones.
    """
    sources = sorted(glob.glob(os.path.join(CORE, "src", "*.c")))
    if not absolute_paths:
        sources = [os.path.relpath(p).replace(os.sep, "/") for p in sources]
    builder = FFI()
    builder.cdef(header_cdef())
    builder.set_source(
        "prospector._engine",
        '#include "prospector.h"',
        sources=sources,
        include_dirs=[INCLUDE if absolute_paths else os.path.relpath(INCLUDE)],
        extra_compile_args=COMPILE_ARGS,
        extra_link_args=LINK_ARGS,
        libraries=["m"],
    )
    return builder


ffibuilder = make_ffibuilder()


if __name__ == "__main__":
    # In-place build for the editable install, under the same file name pip's
    # build gives it (_engine.abi3.so: cffi modules use the limited API), so
    # there is only ever one bindings/prospector/_engine*.so to import.
    from importlib.machinery import EXTENSION_SUFFIXES

    build_tmp = os.path.join(ROOT, "build", "cffi")
    os.makedirs(build_tmp, exist_ok=True)
    so_path = make_ffibuilder(absolute_paths=True).compile(tmpdir=build_tmp, verbose=False)
    name = "_engine.abi3.so" if ".abi3.so" in EXTENSION_SUFFIXES else os.path.basename(so_path)
    for old in glob.glob(os.path.join(HERE, "_engine*.so")):
        os.remove(old)
    target = os.path.join(HERE, name)
    os.replace(so_path, target)
    print(target)
