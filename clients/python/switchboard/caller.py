"""The caller side of wire protocol v1: one request, its reply envelope, errors as RpcError."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from typing import Any, Mapping

import nats.errors
from nats.aio.client import Client as NATS

from .codec import encode_body
from .contract import Contract, MethodSpec, describe_issues
from .envelope import Envelope, decode_envelope
from .errors import NOTHING, OK, RETRYABLE, SYSTEM_CODES, RpcError

DEFAULT_PREFIX = "rpc"
#: Attempts of an idempotent call in all, and the backoff between them (ms), as the TypeScript client.
ATTEMPTS, BASE_DELAY_MS, MAX_DELAY_MS = 3, 20, 500
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_id() -> str:
    """A fresh Rpc-Id: 22 random base-62 characters."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(22))


def now_ms() -> int:
    return int(time.time() * 1000)


def _number(env: Envelope, spec: MethodSpec | None) -> int:
    if env.status in SYSTEM_CODES:
        return SYSTEM_CODES[env.status]
    if spec is not None and env.status in spec.errors:
        return spec.errors[env.status].status
    raw = env.headers.get("Nats-Service-Error-Code", "")
    return int(raw) if raw.isdigit() else 500


async def request(
    nc: NATS,
    subject: str,
    input: Any = NOTHING,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> Envelope:
    """
    One request to `subject` (headers as given, nothing added) and its reply envelope. No responders is
    UNAVAILABLE, no reply within `timeout` DEADLINE_EXCEEDED, a reply that is not an envelope INTERNAL; a
    cancelled call (its task cancelled) raises asyncio.CancelledError.
    """
    payload = encode_body(input)
    try:
        msg = await nc.request(subject, payload, timeout=timeout, headers=dict(headers) if headers else None)
    except nats.errors.NoRespondersError:
        raise RpcError("UNAVAILABLE", f"no responders for {subject}") from None
    except nats.errors.TimeoutError:
        raise RpcError("DEADLINE_EXCEEDED", f"no reply from {subject} within {timeout * 1000:.0f} ms") from None
    except nats.errors.MaxPayloadError:
        raise RpcError("RESOURCE_EXHAUSTED", f"request of {len(payload)} bytes is over the server's max_payload") from None
    except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError, nats.errors.ConnectionReconnectingError) as err:
        raise RpcError("UNAVAILABLE", f"connection to NATS is down: {type(err).__name__}") from None
    hdrs = dict(msg.headers or {})
    if hdrs.get("Status") == "503":
        raise RpcError("UNAVAILABLE", f"no responders for {subject}")
    env = decode_envelope(msg.data, hdrs)
    if env is None:
        raise RpcError("INTERNAL", f"malformed reply from {subject}")
    return env


async def call(
    nc: NATS,
    service: str,
    method: str,
    input: Any = NOTHING,
    *,
    timeout: float = 5.0,
    headers: Mapping[str, str] | None = None,
    prefix: str = DEFAULT_PREFIX,
    rpc_id: str | None = None,
    deadline: int | None = None,
    spec: MethodSpec | None = None,
    idempotent: bool | None = None,
    raw: bool = False,
) -> Any:
    """
    Calls `<prefix>.<service>.<method>` with `input` and returns the result (None when the reply has none), or
    raises RpcError(code, message, data). Sends Rpc-Deadline (now + timeout, or `deadline` in epoch ms when that is
    sooner) and Rpc-Id (`rpc_id`, else a fresh one, the same on every retry). With `spec` the input is checked
    first (INVALID_ARGUMENT, nothing sent); idempotent methods (`idempotent`, else the spec's) are retried on
    UNAVAILABLE and DEADLINE_EXCEEDED within the deadline. `raw=True` returns the OK Envelope instead.
    """
    if spec is not None:
        issues = spec.input_issues(input)
        if issues:
            raise RpcError("INVALID_ARGUMENT", f"invalid input for {service}.{method}: {describe_issues(issues)}", {"issues": issues})
    retry = idempotent if idempotent is not None else (spec.idempotent if spec is not None else False)
    end = now_ms() + int(timeout * 1000)
    if deadline is not None:
        end = min(end, deadline)
    base = {k: v for k, v in (headers or {}).items() if k not in ("Rpc-Deadline", "Rpc-Id")}
    rid = rpc_id or new_id()
    subject = f"{prefix}.{service}.{method}"
    attempts = ATTEMPTS if retry else 1
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            ceiling = min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 2))
            await asyncio.sleep(min(ceiling / 2 + random.random() * ceiling / 2, max(0, end - now_ms())) / 1000)
        left = end - now_ms()
        if left <= 0:
            raise RpcError("DEADLINE_EXCEEDED", f"{service}.{method}: deadline passed")
        # each attempt gets an equal share of the time left
        attempts_left = attempts - attempt + 1
        share = left if attempts_left <= 1 else max(1, left // attempts_left)
        hdrs = {**base, "Rpc-Deadline": str(now_ms() + share), "Rpc-Id": rid}
        try:
            env = await request(nc, subject, input, timeout=share / 1000, headers=hdrs)
        except RpcError as err:
            if attempt < attempts and err.code in RETRYABLE and end - now_ms() > 0:
                continue
            raise
        if env.status == OK:
            if raw:
                return env
            return None if env.result is NOTHING else env.result
        if attempt < attempts and env.status in RETRYABLE and end - now_ms() > 0:
            continue
        raise RpcError(env.status, env.message or "", env.data, _number(env, spec))
    raise AssertionError("unreachable")


class Client:
    """
    Calls of one service with its contract at hand: `await Client(nc, contract).call("register", {...})` checks the
    input against the method's schema first and retries idempotent methods. `await Client.discover(nc, "user")`
    takes the contract from the schemas a worker publishes in `$SRV.INFO.<service>`.
    """

    def __init__(self, nc: NATS, contract: Contract, *, prefix: str = DEFAULT_PREFIX, timeout: float = 5.0,
                 headers: Mapping[str, str] | None = None) -> None:
        self.nc, self.contract, self.prefix, self.timeout = nc, contract, prefix, timeout
        self.headers = dict(headers or {})

    @classmethod
    async def discover(cls, nc: NATS, service: str, *, timeout: float = 2.0, **kw: Any) -> "Client":
        import json

        try:
            msg = await nc.request(f"$SRV.INFO.{service}", b"", timeout=timeout)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            raise RpcError("UNAVAILABLE", f"no worker of {service} answers $SRV.INFO") from None
        return cls(nc, Contract.from_info(json.loads(msg.data)), **kw)

    def with_headers(self, headers: Mapping[str, str]) -> "Client":
        return Client(self.nc, self.contract, prefix=self.prefix, timeout=self.timeout, headers={**self.headers, **headers})

    async def call(self, method: str, input: Any = NOTHING, **kw: Any) -> Any:
        spec = self.contract.methods.get(method)
        kw.setdefault("timeout", self.timeout)
        kw["headers"] = {**self.headers, **(kw.get("headers") or {})}
        return await call(self.nc, self.contract.name, method, input, prefix=self.prefix, spec=spec, **kw)
