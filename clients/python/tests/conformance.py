"""
Runs the conformance vectors of conformance/v1 (worker-, caller- and srv-vectors.json) against this kit: the Python
worker of the conformance contract answers the worker and $SRV vectors; the Python caller calls a fake responder
for the caller vectors. `python3 tests/conformance.py` prints one line per vector; test_conformance.py runs it
under pytest. Needs `nats-server` on PATH (or NATS_SERVER).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator

import logging

import jsonschema
import nats

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "examples"))

from conformance_worker import HANDLERS, REFERENCE_ID, load_contract  # noqa: E402
from switchboard import NOTHING, RpcError, Worker, call, decode_body  # noqa: E402
from switchboard.errors import SYSTEM_CODES  # noqa: E402

ROOT = HERE.parents[2]
VECTORS = ROOT / "conformance" / "v1"
SCHEMAS = Path(os.environ.get("MICRO_SCHEMAS", "/work/shared/schemas/micro/v1"))
#: Features of this kit (vectors that require others are skipped).
FEATURES = {"instance-subjects", "nested-calls", "retries", "input-validation"}


# ---- placeholders and tagged JSON ----------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{(now(?:[+-]\d+)?|id)\}")
WHOLE_NOW = re.compile(r"^\{now(?:[+-]\d+)?\}$")


def _value(p: str, scope: dict[str, Any]) -> str:
    if p == "id":
        return scope["id"]
    m = re.fullmatch(r"now(?:([+-])(\d+))?", p)
    assert m
    n = scope["now"] if m.group(1) is None else scope["now"] + (int(m.group(2)) if m.group(1) == "+" else -int(m.group(2)))
    return str(n)


def resolve_str(s: str, scope: dict[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: _value(m.group(1), scope), s)


def resolve(v: Any, scope: dict[str, Any]) -> Any:
    if isinstance(v, str):
        return int(_value(v[1:-1], scope)) if WHOLE_NOW.match(v) else resolve_str(v, scope)
    if isinstance(v, list):
        return [resolve(x, scope) for x in v]
    if isinstance(v, dict):
        return {k: resolve(x, scope) for k, x in v.items()}
    return v


def iso(d: dt.datetime) -> str:
    d = d.astimezone(dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def to_tagged(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return {"$date": iso(v)}
    if isinstance(v, (bytes, bytearray)):
        return {"$bin": bytes(v).hex()}
    if isinstance(v, list):
        return [to_tagged(x) for x in v]
    if isinstance(v, dict):
        return {k: to_tagged(x) for k, x in v.items()}
    return v


def from_tagged(v: Any) -> Any:
    if isinstance(v, list):
        return [from_tagged(x) for x in v]
    if isinstance(v, dict):
        if list(v) == ["$date"]:
            return dt.datetime.fromisoformat(v["$date"].replace("Z", "+00:00"))
        if list(v) == ["$bin"]:
            return bytes.fromhex(v["$bin"])
        return {k: from_tagged(x) for k, x in v.items()}
    return v


# ---- comparisons (as conformance/v1/vectors.ts) ----------------------------------------------------------------

def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def same(a: Any, b: Any) -> bool:
    return _canon(_num(a)) == _canon(_num(b))


def _num(v: Any) -> Any:
    # JSON numbers: 2.0 and 2 are the same value
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, list):
        return [_num(x) for x in v]
    if isinstance(v, dict):
        return {k: _num(x) for k, x in v.items()}
    return v


def contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return isinstance(actual, list) and all(any(contains(a, e) for a in actual) for e in expected)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], e) for k, e in expected.items())
    return _num(actual) == _num(expected) and type(actual) is not bool or actual is expected


def _unescape(t: str) -> str:
    return t.replace("~1", "/").replace("~0", "~")


def at(v: Any, pointer: str) -> tuple[bool, Any]:
    cur = v
    for raw in pointer.split("/")[1:]:
        k = _unescape(raw)
        if not isinstance(cur, dict) or k not in cur:
            return False, None
        cur = cur[k]
    return True, cur


def without(v: Any, pointers: list[str]) -> Any:
    if v is NOTHING or not pointers:
        return v
    copy = json.loads(json.dumps(v))
    for p in pointers:
        parts = [_unescape(x) for x in p.split("/")[1:]]
        cur = copy
        for k in parts[:-1]:
            cur = cur.get(k) if isinstance(cur, dict) else None
        if isinstance(cur, dict):
            cur.pop(parts[-1], None)
    return copy


def problems_of(expect: dict[str, Any], out: dict[str, Any], scope: dict[str, Any]) -> list[str]:
    p: list[str] = []
    show = lambda v: "nothing" if v is NOTHING or v is None else json.dumps(v, ensure_ascii=False)[:300]  # noqa: E731
    result = out.get("result", NOTHING)
    if out["status"] != expect["status"]:
        p.append(f"status {out['status']}, expected {expect['status']} (message: {show(out.get('message'))})")
    matches = expect.get("result_match") or {}
    if "result" in expect:
        want = resolve(expect["result"], scope)
        if result is NOTHING or not same(without(result, list(matches)), without(want, list(matches))):
            p.append(f"result {show(result)}, expected {show(want)}")
    for pointer, pattern in matches.items():
        found, value = at(result, pointer)
        rx = re.compile(resolve_str(pattern, scope))
        if not found or isinstance(value, bool) or not isinstance(value, (str, int, float)) or not rx.search(str(value)):
            p.append(f"result{pointer} {show(value)} does not match {rx.pattern}")
    if expect.get("result_absent") and result is not NOTHING:
        p.append(f"result {show(result)}, expected none")
    msg = out.get("message")
    if "message" in expect and msg != resolve_str(expect["message"], scope):
        p.append(f"message {show(msg)}, expected {show(expect['message'])}")
    if "message_contains" in expect and (msg is None or expect["message_contains"] not in msg):
        p.append(f"message {show(msg)} does not contain {show(expect['message_contains'])}")
    if "message_excludes" in expect and msg is not None and expect["message_excludes"] in msg:
        p.append(f"message {show(msg)} contains {show(expect['message_excludes'])}")
    data = out.get("data", NOTHING)
    if "data" in expect and (data is NOTHING or not same(data, resolve(expect["data"], scope))):
        p.append(f"data {show(data)}, expected {show(expect['data'])}")
    if "data_match" in expect and (data is NOTHING or not contains(data, resolve(expect["data_match"], scope))):
        p.append(f"data {show(data)} does not hold {show(expect['data_match'])}")
    if expect.get("data_absent") and data is not NOTHING:
        p.append(f"data {show(data)}, expected none")
    h = out.get("headers")
    if h is not None:
        for k, v in (expect.get("headers") or {}).items():
            want = resolve_str(v, scope)
            if h.get(k) != want:
                p.append(f"header {k}: {show(h.get(k))}, expected {show(want)}")
        p += [f"header {k} missing" for k in expect.get("headers_present") or [] if k not in h]
        p += [f"header {k}: {show(h[k])}, expected none" for k in expect.get("headers_absent") or [] if k in h]
    return p


def error_reply_problems(out: dict[str, Any]) -> list[str]:
    if out["status"] == "OK" or out.get("headers") is None:
        return []
    h, p = out["headers"], []
    want = re.sub(r"[\r\n]+", " ", out.get("message") or "")[:256].strip()
    if h.get("Nats-Service-Error") != want:
        p.append(f"Nats-Service-Error {h.get('Nats-Service-Error')!r}, expected {want!r}")
    if not re.fullmatch(r"[1-9][0-9]*", h.get("Nats-Service-Error-Code", "")):
        p.append("Nats-Service-Error-Code is not a number")
    if not isinstance(out.get("message"), str):
        p.append("an error envelope without a message")
    return p


def ok_reply_problems(out: dict[str, Any]) -> list[str]:
    if out["status"] != "OK" or out.get("headers") is None:
        return []
    return [f"an OK reply with header {k}" for k in out["headers"] if k != "Rpc-Instance"]


# ---- the runs ------------------------------------------------------------------------------------------------

def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def nats_server() -> AsyncIterator[str]:
    port = _free_port()
    proc = subprocess.Popen([os.environ.get("NATS_SERVER", "nats-server"), "-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"nats://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _headers_of(msg: Any) -> dict[str, str]:
    return {k: v for k, v in (msg.headers or {}).items()}


async def run_worker_vectors(nc: Any, worker_id: str) -> list[tuple[str, str, list[str] | None]]:
    out: list[tuple[str, str, list[str] | None]] = []
    for v in load("worker-vectors.json")["vectors"]:
        if set(v.get("requires") or []) - FEATURES:
            out.append(("worker", v["name"], None))
            continue
        scope = {"now": int(time.time() * 1000), "id": worker_id}
        req = v["request"]
        headers = {k: resolve_str(x, scope) for k, x in req["headers"].items()}
        try:
            msg = await nc.request(resolve_str(req["subject"], scope), bytes.fromhex(req["body_hex"]), timeout=5, headers=headers or None)
        except Exception as err:  # noqa: BLE001
            out.append(("worker", v["name"], [f"no reply: {type(err).__name__}"]))
            continue
        env = decode_body(msg.data, 200)
        outcome: dict[str, Any] = {"status": env.get("status"), "headers": _headers_of(msg)}
        if "result" in env:
            outcome["result"] = to_tagged(env["result"])
        if "message" in env:
            outcome["message"] = env["message"]
        if "data" in env:
            outcome["data"] = to_tagged(env["data"])
        problems = problems_of(v["expect"], outcome, scope) + error_reply_problems(outcome) + ok_reply_problems(outcome)
        out.append(("worker", v["name"], problems))
    return out


def _json_equal(actual: Any, expected: Any) -> bool:
    """Equality where metadata strings holding JSON compare as JSON."""
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(_json_equal(actual[k], expected[k]) for k in actual)
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(_json_equal(a, e) for a, e in zip(actual, expected))
    if isinstance(actual, str) and isinstance(expected, str) and actual != expected:
        try:
            return json.loads(actual) == json.loads(expected)
        except ValueError:
            return False
    return actual == expected


async def run_srv_vectors(nc: Any, worker_id: str) -> list[tuple[str, str, list[str] | None]]:
    out: list[tuple[str, str, list[str] | None]] = []
    contract = load("contract.json")
    for v in load("srv-vectors.json")["vectors"]:
        scope = {"now": int(time.time() * 1000), "id": worker_id}
        e, p = v["expect"], []
        subject = resolve_str(v["request"]["subject"], scope)
        before = None
        if "after_call" in v:
            before = json.loads((await nc.request(subject, b"", timeout=2)).data)
            ac = v["after_call"]
            await nc.request(f"rpc.conformance.{ac['method']}", bytes.fromhex(ac["body_hex"]), timeout=5)
        try:
            reply = json.loads((await nc.request(subject, b"", timeout=1)).data)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            reply = None
        if e.get("no_reply"):
            out.append(("srv", v["name"], [] if reply is None else ["a reply, expected none"]))
            continue
        if reply is None:
            out.append(("srv", v["name"], ["no reply"]))
            continue
        if "schema" in e and (SCHEMAS / e["schema"]).exists():
            schema = json.loads((SCHEMAS / e["schema"]).read_text())
            p += [f"schema {e['schema']}: {err.message}" for err in jsonschema.Draft7Validator(schema).iter_errors(reply)]
        if "json" in e and not _json_equal(reply, resolve(e["json"], scope)):
            p.append(f"reply {json.dumps(reply)[:400]} differs from the expected one")
        if "json_ref" in e:
            _, pointer = e["json_ref"].split("#", 1)
            found, want = at(contract, pointer)
            if not found or not _json_equal(reply, resolve(want, scope)):
                p.append(f"reply differs from {e['json_ref']}")
        for k, want in (e.get("match") or {}).items():
            if not _json_equal(reply.get(k), resolve(want, scope)):
                p.append(f"{k}: {json.dumps(reply.get(k))[:200]}, expected {json.dumps(want)[:200]}")
        if "endpoint_names" in e and [x["name"] for x in reply.get("endpoints", [])] != e["endpoint_names"]:
            p.append("endpoint names differ")
        for field, kind in (e.get("endpoint_fields") or {}).items():
            for ep in reply.get("endpoints", []):
                ok = isinstance(ep.get(field), str) if kind == "string" else isinstance(ep.get(field), int) and not isinstance(ep.get(field), bool)
                if not ok:
                    p.append(f"endpoint {ep.get('name')}: {field} is not {kind}")
        if "endpoint" in e and before is not None:
            b = next(x for x in before["endpoints"] if x["name"] == e["endpoint"])
            a = next(x for x in reply["endpoints"] if x["name"] == e["endpoint"])
            if "num_requests_delta" in e and a["num_requests"] - b["num_requests"] != e["num_requests_delta"]:
                p.append(f"num_requests delta {a['num_requests'] - b['num_requests']}")
            if "num_errors_delta" in e and a["num_errors"] - b["num_errors"] != e["num_errors_delta"]:
                p.append(f"num_errors delta {a['num_errors'] - b['num_errors']}")
            if "last_error" in e and a["last_error"] != e["last_error"]:
                p.append(f"last_error {a['last_error']!r}, expected {e['last_error']!r}")
        out.append(("srv", v["name"], p))
    return out


async def _raw_reply(nc: Any, subject: str, spec: dict[str, Any]) -> None:
    """A reply as the vector says, status line included (written as a raw HPUB)."""
    body = bytes.fromhex(spec.get("body_hex", ""))
    status, headers = spec.get("status_line"), spec.get("headers") or {}
    if status is None and not headers:
        await nc.publish(subject, body)
        return
    hdr = ("NATS/1.0" + (f" {status}" if status else "") + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    cmd = f"HPUB {subject} {len(hdr)} {len(hdr) + len(body)}\r\n".encode() + hdr + body + b"\r\n"
    await nc._send_command(cmd)
    await nc.flush()


async def run_caller_vectors(url: str) -> list[tuple[str, str, list[str] | None]]:
    out: list[tuple[str, str, list[str] | None]] = []
    contract = load_contract()
    for v in load("caller-vectors.json")["vectors"]:
        if set(v.get("requires") or []) - FEATURES:
            out.append(("caller", v["name"], None))
            continue
        fake = await nats.connect(url)
        nc = await nats.connect(url)
        seen: list[Any] = []

        async def respond(msg: Any, v: dict[str, Any] = v, seen: list[Any] = seen, fake: Any = fake) -> None:
            seen.append(msg)
            spec = v["replies"][min(len(seen) - 1, len(v["replies"]) - 1)]
            if not spec.get("silent"):
                await _raw_reply(fake, msg.reply, spec)

        await fake.subscribe("rpc.conformance.>", cb=respond)
        await fake.flush()
        await nc.flush()
        await asyncio.sleep(0.02)
        c = v["call"]
        outcome: dict[str, Any]
        number = None
        try:
            env = await call(nc, "conformance", c["method"], from_tagged(c["input"]) if "input" in c else NOTHING,
                             timeout=c["timeout_ms"] / 1000, spec=contract.methods[c["method"]], raw=True)
            outcome = {"status": "OK"}
            if env.result is not NOTHING:
                outcome["result"] = to_tagged(env.result)
        except RpcError as err:
            outcome = {"status": err.code, "message": err.message}
            if err.data is not NOTHING:
                outcome["data"] = to_tagged(err.data)
            number = err.number
        e = v["expect"]
        p = problems_of(e, outcome, {"now": int(time.time() * 1000), "id": ""})
        if "number" in e and number != e["number"]:
            p.append(f"number {number}, expected {e['number']}")
        if "requests" in e and len(seen) != e["requests"]:
            p.append(f"{len(seen)} requests, expected {e['requests']}")
        if "requests_max" in e and len(seen) > e["requests_max"]:
            p.append(f"{len(seen)} requests, expected at most {e['requests_max']}")
        if e.get("same_rpc_id") and len({(m.headers or {}).get("Rpc-Id") for m in seen}) != 1:
            p.append("the requests have different Rpc-Ids")
        r = e.get("request") or {}
        for m in seen:
            if "body_hex" in r and m.data.hex() != r["body_hex"]:
                p.append(f"request body {m.data.hex()}, expected {r['body_hex']}")
            if "body" in r and to_tagged(decode_body(m.data)) != r["body"]:
                p.append(f"request body {m.data.hex()} is not {r['body']}")
            p += [f"request header {k} missing" for k in r.get("headers_present") or [] if k not in (m.headers or {})]
        out.append(("caller", v["name"], p))
        await nc.close()
        await fake.close()
    return out


async def run_all() -> list[tuple[str, str, list[str] | None]]:
    async with nats_server() as url:
        nc = await nats.connect(url)
        wnc = await nats.connect(url)
        worker = await Worker(wnc, load_contract(), HANDLERS, instance_id=REFERENCE_ID).start()
        try:
            results = await run_worker_vectors(nc, worker.id)
            results += await run_srv_vectors(nc, worker.id)
        finally:
            await worker.stop()
            await wnc.close()
            await nc.close()
        # the caller vectors answer with a fake responder: no worker may share its subjects
        results += await run_caller_vectors(url)
    return results


def main() -> int:
    logging.basicConfig(level=logging.CRITICAL)  # the worker logs the handler failures the vectors provoke
    results = asyncio.run(run_all())
    failed = 0
    for kind, name, problems in results:
        if problems is None:
            print(f"skip {kind}: {name}")
        elif problems:
            failed += 1
            print(f"FAIL {kind}: {name}\n     " + "\n     ".join(problems))
        else:
            print(f"ok   {kind}: {name}")
    counts = {k: sum(1 for r in results if r[0] == k and r[2] == []) for k in ("worker", "srv", "caller")}
    totals = {k: sum(1 for r in results if r[0] == k) for k in ("worker", "srv", "caller")}
    print(" ".join(f"{k} {counts[k]}/{totals[k]}" for k in counts), f"failed {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
