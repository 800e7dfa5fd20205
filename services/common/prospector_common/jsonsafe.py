"""Strict JSON for everything the services store or send.

Metrics come out of numpy (np.float32 is not JSON serializable) and losses
can be NaN, which `json.dumps` writes as the non-standard `NaN` that
PostgreSQL and browsers reject. Everything written to the catalog, a JSONL
file or a stream entry goes through `json_safe` first, so one rule holds
everywhere: non-finite numbers become null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import PurePath
from typing import Any


def json_safe(value: Any) -> Any:
    """A copy of `value` made of dict/list/str/int/float/bool/None only.

    numpy scalars and arrays become Python numbers and lists, NaN and
    infinities become None, tuples and sets become lists, paths and dates
    become strings. Anything else raises TypeError rather than being guessed.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)  # drops IntEnum and other subclasses to a plain int
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    # numpy without importing it: arrays have tolist(), scalars have item().
    if hasattr(value, "tolist") and callable(value.tolist):
        return json_safe(value.tolist())
    if hasattr(value, "item") and callable(value.item):
        return json_safe(value.item())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """Compact, standard JSON of `json_safe(value)` (never NaN)."""
    return json.dumps(json_safe(value), separators=(",", ":"), allow_nan=False)
