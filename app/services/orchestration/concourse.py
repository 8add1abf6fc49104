"""Concourse: the job-builds API with a bearer token.

Stock Concourse builds take no parameters; buildstate sends the resume values as the JSON body
of the create call (`{"params": {...}}`) and finds an earlier trigger by the `params` a build
listing reports (what a parameter-aware proxy or the test double returns).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from app.services.orchestration.platforms import (
    ABORTED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCESS,
    JobRef,
    Target,
    TriggerError,
    TriggerParams,
    http_error,
)
from app.settings import Settings

_STATES = {"pending": QUEUED, "started": RUNNING, "succeeded": SUCCESS, "failed": FAILED,
           "errored": FAILED, "aborted": ABORTED}


class Concourse:
    name = "concourse"
    can_find = True
    can_poll = True

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.concourse_url
        self.base = settings.concourse_url.rstrip("/")
        self.team = quote(settings.concourse_team, safe="")
        self.headers = (
            {"Authorization": f"Bearer {settings.concourse_token}"} if settings.concourse_token
            else {}
        )
        self.timeout = settings.trigger_timeout_seconds
        self.http = http

    def _job_path(self, target: Target) -> str:
        assert target.job
        return (f"/teams/{self.team}/pipelines/{quote(target.pipeline, safe='')}"
                f"/jobs/{quote(target.job, safe='')}")

    def _ref(self, target: Target, build: dict[str, Any]) -> JobRef:
        name = str(build.get("name", ""))
        return JobRef(
            state=_STATES.get(str(build.get("status")), RUNNING),
            job_id=str(build["id"]), build_number=name,
            job_url=f"{self.base}{self._job_path(target)}/builds/{quote(name, safe='')}",
        )

    async def trigger(self, target: Target, params: TriggerParams) -> JobRef:
        try:
            response = await self.http.post(
                f"{self.base}/api/v1{self._job_path(target)}/builds",
                json={"params": params.as_dict()}, headers=self.headers, timeout=self.timeout,
            )
            response.raise_for_status()
            return self._ref(target, response.json())
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise http_error(exc, "Concourse create build") from None

    async def find(self, target: Target, params: TriggerParams) -> JobRef | None:
        try:
            response = await self.http.get(
                f"{self.base}/api/v1{self._job_path(target)}/builds", params={"limit": "200"},
                headers=self.headers, timeout=self.timeout,
            )
            if response.status_code == 404:
                return None
            response.raise_for_status()
            for build in response.json():
                given = build.get("params") or {}
                if given.get("RESUME_REQUEST_ID") == params.resume_request_id:
                    return self._ref(target, build)
        except (httpx.HTTPError, ValueError, KeyError, AttributeError) as exc:
            raise http_error(exc, "Concourse lookup") from None
        return None

    async def status(self, target: Target, ref: JobRef) -> JobRef:
        if ref.job_id is None:
            raise TriggerError("no Concourse build id to follow")
        try:
            response = await self.http.get(
                f"{self.base}/api/v1/builds/{quote(ref.job_id, safe='')}",
                headers=self.headers, timeout=self.timeout,
            )
            response.raise_for_status()
            return self._ref(target, response.json())
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise http_error(exc, "Concourse status") from None
