"""What one orchestrator worker carries between iterations: settings, HTTP client, identity."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from app.services.actor import SCOPES, Actor
from app.services.orchestration.backoff import RateLimiter
from app.services.orchestration.platforms import Platform, make_platform
from app.settings import Settings


def worker_name(kind: str = "orchestrator") -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Runtime:
    settings: Settings
    http: httpx.AsyncClient
    worker: str = field(default_factory=worker_name)
    limiter: RateLimiter | None = None
    _platforms: dict[str, Platform] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = RateLimiter(
                self.settings.trigger_rate_per_minute, self.settings.trigger_rate_burst
            )

    @property
    def actor(self) -> Actor:
        return Actor(name=self.worker.split(":", 1)[0], scopes=frozenset(SCOPES), kind="system",
                     request_id=self.worker[-64:])

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.orchestrator_lease_seconds)

    def platform(self, name: str) -> Platform:
        if name not in self._platforms:
            self._platforms[name] = make_platform(name, self.settings, self.http)
        return self._platforms[name]


def new_http_client() -> httpx.AsyncClient:
    # Redirects are not followed: a CI answer must not send credentials somewhere else.
    return httpx.AsyncClient(follow_redirects=False, headers={"User-Agent": "buildstate"})
