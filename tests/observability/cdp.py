"""Headless Chromium driven over the Chrome DevTools Protocol (a websocket; no node, no driver).

Every request the page makes is recorded, so a test can prove none left 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
    "--disable-features=Translate,MediaRouter,OptimizationHints", "--metrics-recording-only",
    "--window-size=1400,1700", "--remote-debugging-port=0", "--remote-allow-origins=*",
]


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


class Page:
    def __init__(self, ws, session: str) -> None:
        self.ws = ws
        self.session = session
        self.requests: list[dict[str, Any]] = []  # Network.requestWillBeSent params
        self.sockets: list[str] = []
        self.console: list[str] = []
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._waiters: list[tuple[str, asyncio.Future]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self._pending:
                self._pending.pop(msg["id"]).set_result(msg)
                continue
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Network.requestWillBeSent":
                self.requests.append(params)
            elif method == "Network.webSocketCreated":
                self.sockets.append(params["url"])
            elif method == "Runtime.consoleAPICalled":
                self.console.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                self.console.append("EXCEPTION " + json.dumps(params["exceptionDetails"])[:500])
            for name, future in list(self._waiters):
                if name == method and not future.done():
                    future.set_result(params)
                    self._waiters.remove((name, future))

    async def send(self, method: str, params: dict | None = None, *, session: bool = True) -> dict:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        future = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self.ws.send(json.dumps(message))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def navigate(self, url: str) -> None:
        loaded = asyncio.get_running_loop().create_future()
        self._waiters.append(("Page.loadEventFired", loaded))
        await self.send("Page.navigate", {"url": url})
        await asyncio.wait_for(loaded, 30)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", {
            "expression": expression, "awaitPromise": True, "returnByValue": True,
        })
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        """Until the expression is truthy; its value."""
        async def poll() -> Any:
            while True:
                value = await self.evaluate(expression)
                if value:
                    return value
                await asyncio.sleep(0.1)
        try:
            return await asyncio.wait_for(poll(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"timed out waiting for {expression!r}; console: {self.console[-5:]}") from None

    async def screenshot(self, path: Path) -> Path:
        data = await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def urls(self) -> list[str]:
        return [r["request"]["url"] for r in self.requests] + self.sockets


@contextlib.asynccontextmanager
async def browser(profile: Path) -> AsyncIterator[Page]:
    """A fresh headless Chromium with one page, the network and the console recorded."""
    exe = chromium_path()
    assert exe, "chromium is not installed"
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and len(port_file.read_text().splitlines()) >= 2:
                break
            if process.poll() is not None:
                raise RuntimeError("chromium exited at start")
            await asyncio.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        async with connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 2**20) as ws:
            bootstrap = Page(ws, session="")
            target = await bootstrap.send("Target.createTarget", {"url": "about:blank"}, session=False)
            attached = await bootstrap.send(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False)
            bootstrap.session = attached["sessionId"]
            for domain in ("Network", "Page", "Runtime"):
                await bootstrap.send(f"{domain}.enable")
            try:
                yield bootstrap
            finally:
                bootstrap._reader.cancel()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
