"""A webhook receiver that checks every Standard Webhooks signature itself (no buildstate code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import Call, FakeServer, Reply


def verify(secret: str, call: Call, tolerance: int = 300) -> bool:
    """https://www.standardwebhooks.com/ — v1,base64(HMAC-SHA256(key, "{id}.{ts}.{body}"))."""
    msg_id = call.headers.get("webhook-id")
    ts = call.headers.get("webhook-timestamp", "")
    signatures = call.headers.get("webhook-signature", "")
    if not msg_id or not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") \
        else secret.encode()
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + call.body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    return any(
        part.startswith("v1,") and hmac.compare_digest(part[3:], expected)
        for part in signatures.split()
    )


@dataclass
class Received:
    msg_id: str
    verified: bool
    payload: Any


@dataclass
class WebhookReceiver(FakeServer):
    secret: str = ""
    failing: bool = False  # answer 503 (the server is up but unwell)
    answer: dict[str, Any] = field(default_factory=dict)  # JSON to answer with
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self.route("POST", r"/.*", self._receive)

    def _receive(self, call: Call, match: re.Match) -> Reply:
        ok = verify(self.secret, call)
        with self.lock:
            if self.failing:
                return Reply(503, b"down for maintenance")
            self.received.append(Received(
                msg_id=call.headers.get("webhook-id", ""), verified=ok,
                payload=json.loads(call.body or b"null"),
            ))
        if not ok:
            return Reply(401, b"bad signature")
        return Reply(200, self.answer or {"ok": True})

    def delivered(self) -> list[Received]:
        """What was accepted, first delivery of each message id only."""
        seen: set[str] = set()
        out: list[Received] = []
        with self.lock:
            for item in self.received:
                if item.verified and item.msg_id not in seen:
                    seen.add(item.msg_id)
                    out.append(item)
        return out
