"""The reply envelope (docs/protocol.md §3): {status, result} or {status, message, data}."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .codec import MAX_DEPTH, MalformedBody, decode_body, encode_body
from .errors import NOTHING, OK

#: Longest Nats-Service-Error value.
SERVICE_ERROR_MAX = 256


@dataclass(frozen=True)
class Envelope:
    status: str
    result: Any = NOTHING
    message: str | None = None
    data: Any = NOTHING
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == OK


def encode_ok(result: Any = NOTHING) -> bytes:
    return encode_body({"status": OK} if result is NOTHING else {"status": OK, "result": result})


def encode_error(code: str, message: str, data: Any = NOTHING) -> bytes:
    env: dict[str, Any] = {"status": code, "message": message}
    if data is not NOTHING:
        env["data"] = data
    return encode_body(env)


def error_headers(message: str, number: int) -> dict[str, str]:
    """The ADR-32 headers of an error reply."""
    safe = re.sub(r"[\r\n]+", " ", message)[:SERVICE_ERROR_MAX]
    return {"Nats-Service-Error": safe, "Nats-Service-Error-Code": str(number)}


def decode_envelope(data: bytes, headers: dict[str, str] | None = None) -> Envelope | None:
    """The envelope in `data`, or None when it is not one (a malformed reply)."""
    try:
        v = decode_body(data, MAX_DEPTH + 1)  # the envelope adds a level
    except MalformedBody:
        return None
    if not isinstance(v, dict) or not isinstance(v.get("status"), str):
        return None
    status = v["status"]
    if status != OK and not isinstance(v.get("message"), str):
        return None
    return Envelope(
        status=status,
        result=v.get("result", NOTHING) if status == OK else NOTHING,
        message=v.get("message") if status != OK else None,
        data=v.get("data", NOTHING) if status != OK else NOTHING,
        headers=dict(headers or {}),
    )
