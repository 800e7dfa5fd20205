"""reference/tuning.py holds every knob of core_c/src/tuning.h, same values."""

import pathlib
import re

from prospector.reference import tuning

HEADER = pathlib.Path(__file__).resolve().parents[2] / "core_c" / "src" / "tuning.h"


def header_constants() -> dict:
    src = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    out = {}
    for m in re.finditer(r"#define\s+(T_\w+)\s+(.+)", src):
        text = m.group(2).strip()
        assert re.fullmatch(r"[-+*/(). 0-9eE]+", text), f"unexpected literal {m.group(1)} = {text}"
        out[m.group(1)] = eval(text)  # plain numeric literals and (a / b)
    for m in re.finditer(r"static const double (T_\w+)\[(\d+)\]\s*=\s*\{([^}]*)\}", src):
        values = tuple(float(x) for x in m.group(3).split(","))
        assert len(values) == int(m.group(2))
        out[m.group(1)] = values
    return out


def test_every_header_knob_is_mirrored_with_the_same_value_and_type():
    header = header_constants()
    assert len(header) > 150
    for name, value in header.items():
        assert hasattr(tuning, name), f"{name} missing from reference/tuning.py"
        mirrored = getattr(tuning, name)
        assert type(mirrored) is type(value), f"{name}: int/double mismatch"
        assert mirrored == value, f"{name}: tuning.h {value!r}, tuning.py {mirrored!r}"


def test_reference_has_no_knob_the_header_lacks():
    extra = {n for n in dir(tuning) if n.startswith("T_")} - set(header_constants())
    assert not extra
