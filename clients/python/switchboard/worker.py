"""The worker side of wire protocol v1: serves a contract's methods, answers NATS micro discovery, drains on stop."""

from __future__ import annotations

import asyncio
import collections
import datetime as _dt
import inspect
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
import nats.errors

from . import caller
from .codec import MalformedBody, decode_body
from .contract import Contract, MethodSpec, describe_issues
from .envelope import encode_error, encode_ok, error_headers
from .errors import NOTHING, SYSTEM_CODES, RpcError

log = logging.getLogger("switchboard.worker")

Handler = Callable[[Any, "CallContext"], "Awaitable[Any] | Any"]

PING_TYPE = "io.nats.micro.v1.ping_response"
INFO_TYPE = "io.nats.micro.v1.info_response"
STATS_TYPE = "io.nats.micro.v1.stats_response"

_PASSED_ON = ("Authorization", "traceparent", "tracestate")


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class CallContext:
    """What a handler knows of its call: ids, deadline (epoch ms, None without one) and request headers."""

    service: str
    method: str
    subject: str
    id: str
    deadline: int | None
    headers: dict[str, str]
    worker: "Worker"
    _calls: int = 0

    def time_left(self) -> float | None:
        """Seconds until the deadline (None without one)."""
        return None if self.deadline is None else max(0.0, (self.deadline - _now_ms()) / 1000)

    async def call(self, service: str, method: str, input: Any = NOTHING, *, timeout: float = 5.0, **kw: Any) -> Any:
        """A nested call: Rpc-Id `<id>.<n>`, this call's deadline, Authorization and trace context passed on."""
        self._calls += 1
        headers = {k: self.headers[k] for k in _PASSED_ON if k in self.headers}
        headers.update(kw.pop("headers", None) or {})
        return await caller.call(
            self.worker.nc, service, method, input, timeout=timeout, headers=headers,
            prefix=self.worker.prefix, rpc_id=f"{self.id}.{self._calls}", deadline=self.deadline, **kw,
        )


@dataclass
class _Stats:
    requests: int = 0
    errors: int = 0
    last_error: str = ""
    processing_ns: int = 0
    last_ns: int = 0

    def record(self, ns: int, error: str | None) -> None:
        self.requests += 1
        self.last_ns = ns
        self.processing_ns += ns
        if error is not None:
            self.errors += 1
            self.last_error = error


@dataclass
class _Failure:
    code: str
    status: int
    message: str
    data: Any = NOTHING


class _Refused(Exception):
    def __init__(self, f: _Failure) -> None:
        super().__init__(f.message)
        self.failure = f


def _system(code: str, message: str, data: Any = NOTHING) -> _Refused:
    return _Refused(_Failure(code, SYSTEM_CODES[code], message, data))


def _new_id() -> str:
    return caller.new_id()


@dataclass
class _Endpoint:
    name: str
    subject: str
    spec: MethodSpec
    handler: Handler
    stats: _Stats = field(default_factory=_Stats)


class Worker:
    """
    Serves `contract` with `handlers` (method name → `handler(input, ctx)`, sync or async) on `nc`:

        worker = Worker(nc, contract, handlers)
        await worker.start()
        ...
        await worker.stop()   # drains: no new calls, answers those received, then returns

    Each method on `<prefix>.<service>.<method>` plus the catch-all `<prefix>.<service>.*` (unknown methods:
    UNIMPLEMENTED with Rpc-Unknown-Method) in queue group `<service>`, and, with `instance_subjects`, the same on
    `….<instance id>`; `$SRV.PING/INFO/STATS` (+ `.<service>`, `.<service>.<id>`) as NATS micro v1.
    """

    def __init__(
        self,
        nc: NATS,
        contract: Contract,
        handlers: Mapping[str, Handler],
        *,
        prefix: str = caller.DEFAULT_PREFIX,
        instance_id: str | None = None,
        instance_subjects: bool = True,
        max_in_flight: int = 64,
        max_queued: int | None = None,
        grace: float = 10.0,
        validate_output: bool = True,
    ) -> None:
        missing = [m for m in contract.methods if m not in handlers]
        if missing:
            raise ValueError(f"no handler for {', '.join(missing)}")
        self.nc, self.contract, self.prefix = nc, contract, prefix
        self.id = instance_id or _new_id()
        self.queue = contract.name
        self.instance_subjects = instance_subjects
        self.max_in_flight = max_in_flight
        self.max_queued = max_in_flight // 2 if max_queued is None else max_queued
        self.grace = grace
        self.validate_output = validate_output
        self.started = _dt.datetime.now(_dt.timezone.utc)
        base = f"{prefix}.{contract.name}."
        self._base = base
        self._endpoints = {m: _Endpoint(m, base + m, s, handlers[m]) for m, s in contract.methods.items()}
        self._subs: list[Subscription] = []
        self._direct_sids: set[int] = set()
        self._micro: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = 0
        self._backlog: collections.deque[asyncio.Future[bool]] = collections.deque()
        self._stopping = False

    # ---- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> "Worker":
        for e in self._endpoints.values():
            self._subs.append(await self.nc.subscribe(e.subject, queue=self.queue, cb=self._on_call))
        self._subs.append(await self.nc.subscribe(self._base + "*", queue=self.queue, cb=self._on_call))
        if self.instance_subjects:
            direct = [await self.nc.subscribe(f"{e.subject}.{self.id}", queue=self.queue, cb=self._on_call) for e in self._endpoints.values()]
            direct.append(await self.nc.subscribe(f"{self._base}*.{self.id}", queue=self.queue, cb=self._on_call))
            self._direct_sids = {s._id for s in direct}
            self._subs.extend(direct)
        for verb in ("PING", "INFO", "STATS"):
            for subject in (f"$SRV.{verb}", f"$SRV.{verb}.{self.contract.name}", f"$SRV.{verb}.{self.contract.name}.{self.id}"):
                self._micro.append(await self.nc.subscribe(subject, cb=self._on_micro))
        await self.nc.flush()
        return self

    async def stop(self) -> None:
        """Drains: unsubscribes (so no new calls come), answers every call received (backlog too) within `grace`
        seconds, cancels what still runs (the backlog left is answered UNAVAILABLE), then stops discovery."""
        if self._stopping:
            return
        self._stopping = True
        self._direct_sids = set()  # name no instance from now on
        await asyncio.gather(*(s.drain() for s in self._subs), return_exceptions=True)
        self._subs = []
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self.grace)
            for fut in self._backlog:
                if not fut.done():
                    fut.set_result(False)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        for s in self._micro:
            try:
                await s.unsubscribe()
            except Exception:  # the connection may be closing
                pass
        self._micro = []
        try:
            await self.nc.flush()
        except Exception:
            pass

    async def __aenter__(self) -> "Worker":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- calls ---------------------------------------------------------------------------------------------

    async def _on_call(self, msg: Msg) -> None:
        # nats-py runs one callback at a time per subscription: the call runs as a task of its own
        t = asyncio.get_running_loop().create_task(self._admit(msg, time.perf_counter_ns()))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def _route(self, msg: Msg) -> _Endpoint | str:
        rest = msg.subject[len(self._base):]
        direct = msg._sid in self._direct_sids or (self.instance_subjects and rest.endswith("." + self.id))
        name = rest[: -len(self.id) - 1] if direct and rest.endswith("." + self.id) else rest
        return self._endpoints.get(name) or name

    async def _admit(self, msg: Msg, t0: int) -> None:
        if not msg.reply:
            return
        e = self._route(msg)
        if isinstance(e, str):
            await self._fail(msg, _Failure("UNIMPLEMENTED", 501, f"{self.contract.name} {self.contract.version} has no method '{e}'"),
                             {"Rpc-Unknown-Method": e})
            return
        if self._running >= self.max_in_flight:
            if len(self._backlog) >= self.max_queued:
                f = _Failure("RESOURCE_EXHAUSTED", 429, f"{self.contract.name} worker is at its in-flight limit ({self.max_in_flight})")
                await self._fail(msg, f)
                e.stats.record(0, f"{f.status}:{f.message}")
                return
            fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._backlog.append(fut)
            try:
                go = await fut
            except asyncio.CancelledError:
                go = False
            if not go:
                f = _Failure("UNAVAILABLE", 503, f"{self.contract.name} worker stopped before the call ran")
                await self._fail(msg, f)
                e.stats.record(time.perf_counter_ns() - t0, f"{f.status}:{f.message}")
                return
        else:
            self._running += 1
        try:
            await self._run(msg, e, t0)
        finally:
            self._release()

    def _release(self) -> None:
        while self._backlog:
            fut = self._backlog.popleft()
            if not fut.done():
                fut.set_result(True)  # the slot passes to it
                return
        self._running -= 1

    async def _run(self, msg: Msg, e: _Endpoint, t0: int) -> None:
        failure: _Failure | None = None
        try:
            failure = await self._answer(msg, e)
        except Exception:  # never crash on a call
            log.exception("%s.%s: reply failed", self.contract.name, e.name)
        finally:
            e.stats.record(time.perf_counter_ns() - t0, None if failure is None else f"{failure.status}:{failure.message}")

    async def _answer(self, msg: Msg, e: _Endpoint) -> _Failure | None:
        headers = dict(msg.headers or {})
        try:
            deadline = _parse_deadline(headers.get("Rpc-Deadline"))
            if deadline is not None and deadline <= _now_ms():
                raise _system("DEADLINE_EXCEEDED", f"deadline passed before {e.subject} ran")
            try:
                value = decode_body(msg.data)
            except MalformedBody as err:
                raise _system("INVALID_ARGUMENT", f"body is not valid msgpack: {err}") from None
            issues = e.spec.input_issues(value)
            if issues:
                raise _system("INVALID_ARGUMENT", f"invalid input for {self.contract.name}.{e.name}: {describe_issues(issues)}", {"issues": issues})
            ctx = CallContext(self.contract.name, e.name, e.subject, headers.get("Rpc-Id") or _new_id(), deadline, headers, self)
            out = await self._handle(e, value, ctx)
            if out is None and e.spec.output == {"type": "undefined"}:
                out = NOTHING
            if deadline is not None and _now_ms() >= deadline:
                raise _system("DEADLINE_EXCEEDED", f"{e.subject} finished after its deadline")
            if self.validate_output:
                bad = e.spec.output_issues(out)
                if bad:
                    log.error("%s.%s: handler output does not match the contract: %s", self.contract.name, e.name, describe_issues(bad))
                    raise _system("INTERNAL", "internal error: result does not match the contract")
        except _Refused as r:
            await self._fail(msg, r.failure)
            return r.failure
        except RpcError as err:
            f = self._declared(e, err)
            await self._fail(msg, f)
            return f
        except asyncio.CancelledError:
            f = _Failure("UNAVAILABLE", 503, f"{self.contract.name} worker stopped while the call ran")
            await self._fail(msg, f)
            raise
        except Exception:
            log.exception("%s.%s: handler failed", self.contract.name, e.name)
            f = _Failure("INTERNAL", 500, "internal error")
            await self._fail(msg, f)
            return f
        try:
            await self.nc.publish(msg.reply, encode_ok(out), headers=self._instance(msg))
        except nats.errors.MaxPayloadError:
            f = _Failure("RESOURCE_EXHAUSTED", 429, "reply is over the server's max_payload")
            await self._fail(msg, f)
            return f
        except TypeError:
            log.exception("%s.%s: result cannot be encoded", self.contract.name, e.name)
            f = _Failure("INTERNAL", 500, "internal error")
            await self._fail(msg, f)
            return f
        return None

    async def _handle(self, e: _Endpoint, value: Any, ctx: CallContext) -> Any:
        res = e.handler(value, ctx)
        if not inspect.isawaitable(res):
            return res
        left = ctx.time_left()
        if left is None:
            return await res
        try:  # the handler is cancelled at its deadline (its result would not be sent)
            return await asyncio.wait_for(res, timeout=left)
        except asyncio.TimeoutError:
            raise _system("DEADLINE_EXCEEDED", f"{e.subject} finished after its deadline") from None

    def _declared(self, e: _Endpoint, err: RpcError) -> _Failure:
        spec = e.spec.errors.get(err.code)
        if spec is None and err.code in SYSTEM_CODES:
            return _Failure(err.code, SYSTEM_CODES[err.code], err.message, err.data)
        if spec is None:
            log.error("%s.%s: handler raised undeclared error code %s", self.contract.name, e.name, err.code)
            return _Failure("INTERNAL", 500, "internal error")
        if spec.data is not None and not e.spec.error_data_ok(err.code, err.data):
            log.error("%s.%s: data of declared error %s does not match its schema", self.contract.name, e.name, err.code)
            return _Failure("INTERNAL", 500, "internal error")
        # a system code declared (to attach a data schema) keeps its number
        return _Failure(err.code, SYSTEM_CODES.get(err.code, spec.status), err.message, err.data)

    def _instance(self, msg: Msg) -> dict[str, str] | None:
        if self.instance_subjects and not self._stopping and msg._sid not in self._direct_sids:
            return {"Rpc-Instance": self.id}
        return None

    async def _fail(self, msg: Msg, f: _Failure, extra: Mapping[str, str] | None = None) -> None:
        if not msg.reply:
            return
        headers = error_headers(f.message, f.status)
        headers.update(self._instance(msg) or {})
        headers.update(extra or {})
        try:
            body = encode_error(f.code, f.message, f.data)
        except TypeError:
            body = encode_error(f.code, f.message)
        try:
            await self.nc.publish(msg.reply, body, headers=headers)
        except nats.errors.MaxPayloadError:
            if f.code != "RESOURCE_EXHAUSTED":
                await self._fail(msg, _Failure("RESOURCE_EXHAUSTED", 429, "reply is over the server's max_payload"))
        except Exception:
            if not self.nc.is_closed:
                log.exception("%s: cannot send an error reply", self.contract.name)

    # ---- NATS micro discovery ------------------------------------------------------------------------------

    def _identity(self, type_: str) -> dict[str, Any]:
        return {
            "type": type_,
            "name": self.contract.name,
            "id": self.id,
            "version": self.contract.version,
            "metadata": {
                "switchboard.protocol": "1",
                "switchboard.contract_version": self.contract.version,
                "switchboard.contract_hash": self.contract.hash,
                "switchboard.prefix": self.prefix,
            },
        }

    def ping(self) -> dict[str, Any]:
        return self._identity(PING_TYPE)

    def info(self) -> dict[str, Any]:
        return {
            **self._identity(INFO_TYPE),
            "description": self.contract.description,
            "endpoints": [
                {"name": e.name, "subject": e.subject, "queue_group": self.queue, "metadata": e.spec.metadata()}
                for e in self._endpoints.values()
            ],
        }

    def stats(self) -> dict[str, Any]:
        eps = []
        for e in self._endpoints.values():
            s = e.stats
            eps.append({
                "name": e.name, "subject": e.subject, "queue_group": self.queue,
                "num_requests": s.requests, "num_errors": s.errors, "last_error": s.last_error,
                "processing_time": s.processing_ns,
                "average_processing_time": 0 if s.requests == 0 else round(s.processing_ns / s.requests),
                "data": {"last_processing_time": s.last_ns},
            })
        started = self.started.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.started.microsecond // 1000:03d}Z"
        return {**self._identity(STATS_TYPE), "started": started, "endpoints": eps}

    async def _on_micro(self, msg: Msg) -> None:
        if not msg.reply:
            return
        verb = msg.subject.split(".")[1]
        body = {"PING": self.ping, "INFO": self.info, "STATS": self.stats}[verb]()
        try:
            await self.nc.publish(msg.reply, json.dumps(body, separators=(",", ":")).encode())
        except Exception:  # a discovery reply that cannot be sent (connection closing) is not worth a crash
            pass


_DIGITS = re.compile(r"[0-9]+")


def _parse_deadline(raw: str | None) -> int | None:
    if raw is None:
        return None
    n = int(raw) if _DIGITS.fullmatch(raw) else None  # plain decimal digits only
    if n is None or n <= 0 or n > 2**53 - 1:
        raise _system("INVALID_ARGUMENT", f"bad Rpc-Deadline header: '{raw[:32]}'")
    return n


async def serve(nc: NATS, contract: Contract, handlers: Mapping[str, Handler], **options: Any) -> Worker:
    """Starts a Worker and returns it."""
    return await Worker(nc, contract, handlers, **options).start()
