"""
A Python worker of a small contract, `pyshop`, whose schemas come from a $SRV.INFO reply written by its TypeScript
definition (test/interop/python.test.ts). `python3 examples/shop_worker.py <nats-url> <info.json>` serves until
SIGTERM or SIGINT, then drains: no new calls, every call received is answered, then it exits 0.
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
from switchboard import CallContext, Contract, RpcError, Worker  # noqa: E402


def price(i: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    if i["sku"].startswith("NON-"):
        raise RpcError("OUT_OF_STOCK", f"{i['sku']} is out of stock", {"sku": i["sku"], "left": 0})
    if i["sku"].startswith("BAD-"):
        return {"sku": i["sku"], "total": "not a number"}  # fails the output schema: INTERNAL
    return {"sku": i["sku"], "total": i["qty"] * 2.5}


async def sleep(i: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
    await asyncio.sleep(i["ms"] / 1000)
    return {"slept": i["ms"]}


async def main(url: str, info_path: str) -> None:
    contract = Contract.from_info(json.loads(Path(info_path).read_text()))
    nc = await nats.connect(url)
    worker = await Worker(nc, contract, {"price": price, "sleep": sleep}).start()
    print(f"pyshop worker {worker.id} serving on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("draining", flush=True)
    await worker.stop()
    await nc.drain()
    print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
