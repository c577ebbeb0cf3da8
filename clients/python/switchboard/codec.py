"""MessagePack bodies of wire protocol v1 (docs/protocol.md §2)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import msgpack

from .errors import NOTHING

#: How deep a decoded body may nest.
MAX_DEPTH = 64


class MalformedBody(ValueError):
    """A body a worker must refuse (INVALID_ARGUMENT) or a caller must treat as malformed (INTERNAL)."""


def _pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for k, v in pairs:
        if not isinstance(k, str):
            raise MalformedBody(f"map key {k!r} is not a string")
        if k == "__proto__":
            raise MalformedBody("map key __proto__ is not allowed")
        out[k] = v
    return out


def _ext(code: int, data: bytes) -> Any:
    raise MalformedBody(f"msgpack extension type {code} is not supported")


def _depth_ok(v: Any, budget: int) -> bool:
    if isinstance(v, dict):
        items = v.values()
    elif isinstance(v, list):
        items = v
    else:
        return True
    if budget == 0:
        return False
    return all(_depth_ok(x, budget - 1) for x in items)


def decode_body(data: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Decodes a body; the empty body is NOTHING. Raises MalformedBody on anything a worker must refuse."""
    if len(data) == 0:
        return NOTHING
    try:
        v = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=False,
            object_pairs_hook=_pairs,
            ext_hook=_ext,
            timestamp=3,  # the timestamp extension (type -1) reads as an aware datetime
        )
    except MalformedBody:
        raise
    except (msgpack.ExtraData, ValueError, TypeError, msgpack.UnpackException, RecursionError) as err:
        raise MalformedBody(str(err) or type(err).__name__) from err
    if not _depth_ok(v, max_depth):
        raise MalformedBody(f"nested deeper than {max_depth} levels")
    return v


def _default(v: Any) -> Any:
    if isinstance(v, _dt.datetime):  # naive datetimes are taken as UTC
        return msgpack.Timestamp.from_datetime(v if v.tzinfo else v.replace(tzinfo=_dt.timezone.utc))
    if isinstance(v, (tuple, set, frozenset)):
        return list(v)
    raise TypeError(f"cannot encode {type(v).__name__}")


def encode_body(value: Any) -> bytes:
    """Encodes a body; NOTHING is the empty body."""
    if value is NOTHING:
        return b""
    return msgpack.packb(value, use_bin_type=True, datetime=False, default=_default)
