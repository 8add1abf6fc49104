"""A generic signed webhook as the trigger: POST the resume values to a configured URL.

The receiver cannot be asked afterwards whether a trigger arrived, so every retry carries the
same `webhook-id` (`resume_<request id>`): Standard Webhooks receivers deduplicate on it.
"""

from __future__ import annotations

import json
import time

import httpx

from app.services.orchestration.platforms import (
    FINISHED,
    QUEUED,
    RUNNING,
    JobRef,
    Target,
    TriggerParams,
    http_error,
)
from app.services.webhooks import signed_headers
from app.settings import Settings

_STATES = {"queued", "pending", "running", "success", "failed", "aborted"}


class GenericWebhook:
    name = "generic"
    can_find = False
    can_poll = False

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.generic_trigger_url
        self.url = settings.generic_trigger_url
        self.secret = settings.generic_trigger_secret or ""
        self.timeout = settings.trigger_timeout_seconds
        self.http = http

    async def trigger(self, target: Target, params: TriggerParams) -> JobRef:
        body = json.dumps({
            "type": "resume.trigger",
            "timestamp": int(time.time()),
            "data": {**params.as_dict(), "pipeline": target.pipeline, "job": target.job},
        }, separators=(",", ":")).encode()
        headers = signed_headers(self.secret, f"resume_{params.resume_request_id}", body)
        try:
            response = await self.http.post(
                self.url, content=body, headers=headers, timeout=self.timeout
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise http_error(exc, "generic trigger webhook") from None
        answer: dict = {}
        if response.content:
            try:
                parsed = response.json()
                answer = parsed if isinstance(parsed, dict) else {}
            except ValueError:
                answer = {}
        state = str(answer.get("status") or QUEUED)
        state = "queued" if state == "pending" else state
        return JobRef(
            state=state if state in _STATES else QUEUED,
            job_id=_text(answer.get("job_id")), job_url=_text(answer.get("job_url")),
            build_number=_text(answer.get("build_number")),
        )

    async def find(self, target: Target, params: TriggerParams) -> JobRef | None:
        return None  # not askable; the trigger is idempotent instead

    async def status(self, target: Target, ref: JobRef) -> JobRef:
        # Nothing to poll: progress arrives through the state API and the inbound webhooks.
        if ref.state not in FINISHED:
            ref.state = ref.state if ref.state in (QUEUED, RUNNING) else QUEUED
        return ref


def _text(value: object) -> str | None:
    return None if value is None else str(value)[:255]
