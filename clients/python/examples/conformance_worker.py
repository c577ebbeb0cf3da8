"""
The conformance contract (conformance/v1/contract.json) served in Python: the behaviour each method's description
states. `python3 examples/conformance_worker.py [nats-url]` serves it until SIGTERM/SIGINT, then drains.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import nats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from switchboard import NOTHING, CallContext, Contract, RpcError, Worker  # noqa: E402

CONTRACT_JSON = Path(__file__).resolve().parents[3] / "conformance" / "v1" / "contract.json"
REFERENCE_ID = "conformance-1"


def load_contract(path: Path = CONTRACT_JSON) -> Contract:
    """The contract from the INFO reply contract.json holds (its schemas and hashes exactly as published)."""
    return Contract.from_info(json.loads(path.read_text())["info"])


def _seen(ctx: CallContext) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ctx.id}
    if ctx.deadline is not None:
        out["deadline"] = ctx.deadline
    for k, name in (("traceparent", "traceparent"), ("tracestate", "tracestate"), ("Authorization", "authorization")):
        if k in ctx.headers:
            out[name] = ctx.headers[k]
    return out


def echo(i: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    return {k: i[k] for k in ("text", "n", "nested") if k in i}


def nothing(i: Any, ctx: CallContext) -> Any:
    return NOTHING


def fail(i: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    kind = i["kind"]
    if kind == "ok":
        return {"done": True}
    if kind == "throw":
        raise RpcError(i.get("code", "INTERNAL"), i.get("message", ""), i.get("data", NOTHING))
    if kind == "crash":
        raise RuntimeError(i.get("message", "crash"))
    return {"done": "no"}  # bad-output


async def slow(i: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    await asyncio.sleep(i["ms"] / 1000)
    return {"slept": i["ms"]}


async def ids(i: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    own = _seen(ctx)
    if i.get("nested") is True:
        own["nested"] = await ctx.call("conformance", "ids", {})
    return own


def big(i: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    return {"blob": "x" * i["bytes"]}


HANDLERS = {"echo": echo, "nothing": nothing, "fail": fail, "slow": slow, "ids": ids, "big": big}


async def main(url: str) -> None:
    nc = await nats.connect(url)
    worker = await Worker(nc, load_contract(), HANDLERS, instance_id=REFERENCE_ID).start()
    print(f"conformance worker {worker.id} serving rpc.conformance.* on {url}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await worker.stop()
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "nats://127.0.0.1:4222"))
