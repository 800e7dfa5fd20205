"""Plain Python values into protobuf messages.

The services keep their state in plain dicts (the trainer loop updates one,
the evaluator another); the Status calls turn them into messages here. Only
the message's own fields are read, each with one ``mapping.get`` (so a dict
that another thread is updating is never iterated), keys the message does not
have are ignored, and a missing key or ``None`` leaves the field unset.

Values are coerced by field type, so the usual suspects work: numpy scalars,
``pathlib.Path`` for strings, ``datetime`` for unix-seconds doubles, enum
names for enums. A value that cannot be coerced raises ``ValueError`` naming
the field.
"""

from __future__ import annotations

import datetime as _dt
import operator
import os
from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

_INTS = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}
_FLOATS = (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT)


def _is_repeated(field: FieldDescriptor) -> bool:
    is_repeated = getattr(field, "is_repeated", None)  # protobuf >= 6; `label` is gone in 7
    if is_repeated is not None:
        return bool(is_repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED  # pragma: no cover - older protobuf


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    try:
        return operator.index(value)  # int, numpy integers
    except TypeError:
        pass
    if isinstance(value, float) or hasattr(value, "is_integer"):
        f = float(value)
        if f.is_integer():
            return int(f)
        raise ValueError(f"{value!r} is not a whole number")
    if isinstance(value, str):
        return int(value)
    raise TypeError(f"{type(value).__name__} is not an integer")


def _float(value: Any) -> float:
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    return float(value)


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    cpp = field.cpp_type
    if cpp in _INTS:
        v = _int(value)
        lo, hi = _INTS[cpp]
        if not lo <= v <= hi:
            raise ValueError(f"{v} is out of range {lo}..{hi}")
        return v
    if cpp in _FLOATS:
        return _float(value)
    if cpp == FieldDescriptor.CPPTYPE_BOOL:
        return bool(value)
    if cpp == FieldDescriptor.CPPTYPE_STRING:
        if field.type == FieldDescriptor.TYPE_BYTES:
            return bytes(value)
        return os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        if isinstance(value, str):
            enum_value = field.enum_type.values_by_name.get(value)
            if enum_value is None:
                raise ValueError(f"{value!r} is not a {field.enum_type.full_name} name")
            return enum_value.number
        return _int(value)
    raise TypeError(f"unsupported field type {cpp}")  # pragma: no cover


def fill_message(message: M, mapping: Mapping[str, Any]) -> M:
    """Set message's fields from mapping (see the module doc); returns message."""
    for field in message.DESCRIPTOR.fields:
        value = mapping.get(field.name)
        if value is None:
            continue
        try:
            if field.message_type is not None and not _is_repeated(field):
                if isinstance(value, Message):
                    getattr(message, field.name).CopyFrom(value)
                else:
                    sub = getattr(message, field.name)
                    fill_message(sub, value)
                    sub.SetInParent()  # an empty mapping still marks it present
            elif field.message_type is not None:
                target = getattr(message, field.name)
                for item in value:
                    if isinstance(item, Message):
                        target.add().CopyFrom(item)
                    else:
                        fill_message(target.add(), item)
            elif _is_repeated(field):
                getattr(message, field.name).extend(_scalar(field, v) for v in value)
            else:
                setattr(message, field.name, _scalar(field, value))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"{message.DESCRIPTOR.full_name}.{field.name}: cannot use {value!r}: {exc}"
            ) from exc
    return message


def message_from_dict(message_class: type[M], mapping: Mapping[str, Any]) -> M:
    """A new message_class filled from mapping (see the module doc)."""
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{message_class.DESCRIPTOR.full_name} needs a mapping, got {type(mapping).__name__}")
    return fill_message(message_class(), mapping)


def fields_set(message: Message) -> dict[str, Any]:
    """The fields a client set in a message of optional fields, e.g. an EnvConfig's changes.

    The field names come from the message itself (protos/prospector.proto), so the
    services that read an EnvConfig never keep a list of them by hand."""
    return {f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields
            if f.has_presence and message.HasField(f.name)}
