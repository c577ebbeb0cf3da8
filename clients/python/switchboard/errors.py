"""Status codes of wire protocol v1 and the error a call fails with."""

from __future__ import annotations

import re
from typing import Any

#: The closed set of system codes and their numbers (docs/protocol.md §4).
SYSTEM_CODES: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "FAILED_PRECONDITION": 412,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

OK = "OK"

#: Codes an idempotent method is retried on.
RETRYABLE = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED"})

#: Declared codes are UPPER_SNAKE.
CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")


class _Nothing:
    """The absent value: an empty body, an envelope without `result` or `data` (JavaScript's `undefined`)."""

    _instance: "_Nothing | None" = None

    def __new__(cls) -> "_Nothing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTHING"

    def __bool__(self) -> bool:
        return False


NOTHING: Any = _Nothing()


class RpcError(Exception):
    """A call that did not succeed: its code, message, optional data and number."""

    def __init__(self, code: str, message: str = "", data: Any = NOTHING, number: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data
        self.number = number if number is not None else SYSTEM_CODES.get(code, 500)

    @property
    def has_data(self) -> bool:
        return self.data is not NOTHING

    def __repr__(self) -> str:
        extra = "" if self.data is NOTHING else f", data={self.data!r}"
        return f"RpcError({self.code!r}, {self.message!r}{extra})"
