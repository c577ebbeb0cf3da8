"""
Calls the chat modules from Python: `python3 examples/chat_caller.py <nats-url> <alice> <bob>` registers both
(and alice again), logs in (bob with a wrong password too), adds bob as alice's friend and sends him a message;
prints one JSON object {step: status} (OK or the error code) on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import nats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from switchboard import Client, RpcError  # noqa: E402


async def status(calls: dict[str, str], step: str, coro: Any) -> Any:
    try:
        result = await coro
        calls[step] = "OK"
        return result
    except RpcError as err:
        calls[step] = err.code
        return None


async def main(url: str, alice: str, bob: str) -> dict[str, str]:
    nc = await nats.connect(url)
    out: dict[str, str] = {}
    try:
        # the contracts as the workers publish them in $SRV.INFO: inputs are checked before sending
        user, friend, message = [await Client.discover(nc, s) for s in ("user", "friend", "message")]
        await status(out, "register alice", user.call("register", {"username": alice, "password": f"{alice}-password"}))
        await status(out, "register bob", user.call("register", {"username": bob, "password": f"{bob}-password"}))
        await status(out, "register alice again", user.call("register", {"username": alice, "password": "another-password"}))
        await status(out, "register bad name", user.call("register", {"username": "X!", "password": "whatever-password"}))
        await status(out, "login bob wrong password", user.call("login", {"username": bob, "password": "not-his-password"}))
        session = await status(out, "login alice", user.call("login", {"username": alice, "password": f"{alice}-password"}))
        auth = {"Authorization": f"Bearer {session['token']}"} if session else {}
        await status(out, "send without session", message.call("send", {"to": bob, "text": "hi"}))
        await status(out, "friend add bob", friend.with_headers(auth).call("add", {"username": bob}))
        await status(out, "send to bob", message.with_headers(auth).call("send", {"to": bob, "text": "hello from python"}))
        await status(out, "send to nobody", message.with_headers(auth).call("send", {"to": "nobody_here", "text": "hi"}))
    finally:
        await nc.close()
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:4]))), flush=True)
