"""Jenkins: buildWithParameters, the CSRF crumb when asked for one, queue item → build."""

from __future__ import annotations

import re
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

_QUEUE_ITEM = re.compile(r"/queue/item/(\d+)/?$")
_RESULTS = {"SUCCESS": SUCCESS, "FAILURE": FAILED, "UNSTABLE": FAILED, "ABORTED": ABORTED,
            "NOT_BUILT": ABORTED}
_PARAMS_TREE = "actions[parameters[name,value]]"


class Jenkins:
    name = "jenkins"
    can_find = True
    can_poll = True

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.jenkins_url
        self.base = settings.jenkins_url.rstrip("/")
        self.auth = (settings.jenkins_user or "", settings.jenkins_token or "") if (
            settings.jenkins_user or settings.jenkins_token) else None
        self.timeout = settings.trigger_timeout_seconds
        self.http = http

    def _job_path(self, target: Target) -> str:
        path = f"/job/{quote(target.pipeline, safe='')}"
        if target.job:
            path += f"/job/{quote(target.job, safe='')}"
        return path

    def _build_url(self, target: Target, number: str) -> str:
        # Built from settings, never from a URL the CI sent back.
        return f"{self.base}{self._job_path(target)}/{number}/"

    async def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(
            self.base + path, params=params, auth=self.auth, timeout=self.timeout
        )

    async def _crumb(self) -> dict[str, str]:
        response = await self._get("/crumbIssuer/api/json")
        if response.status_code == 404:
            return {}
        response.raise_for_status()
        body = response.json()
        return {body["crumbRequestField"]: body["crumb"]}

    async def _post(self, path: str, data: dict[str, str]) -> httpx.Response:
        response = await self.http.post(
            self.base + path, data=data, auth=self.auth, timeout=self.timeout
        )
        if response.status_code == 403 and "crumb" in response.text.lower():
            # Jenkins asked for a CSRF crumb: nothing was queued, so asking again is safe.
            response = await self.http.post(
                self.base + path, data=data, auth=self.auth, timeout=self.timeout,
                headers=await self._crumb(),
            )
        response.raise_for_status()
        return response

    async def trigger(self, target: Target, params: TriggerParams) -> JobRef:
        try:
            response = await self._post(
                self._job_path(target) + "/buildWithParameters", params.as_dict()
            )
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise http_error(exc, "Jenkins buildWithParameters") from None
        match = _QUEUE_ITEM.search(response.headers.get("Location", "").rstrip("/") + "/")
        # Queued (Jenkins waits out its quiet period first): the follower turns the queue
        # item into a build number and URL on its next poll.
        return JobRef(state=QUEUED, queue_id=match.group(1) if match else None,
                      detail={"resume_request_id": params.resume_request_id})

    async def find(self, target: Target, params: TriggerParams) -> JobRef | None:
        """The queued item or build that carries this RESUME_REQUEST_ID, if Jenkins has one."""
        wanted = params.resume_request_id
        detail = {"resume_request_id": wanted}
        try:
            # Queue first, builds second: an item leaving the queue is then seen in one of them.
            queue = await self._get(
                "/queue/api/json", {"tree": f"items[id,task[name],{_PARAMS_TREE}]"}
            )
            queue.raise_for_status()
            for item in queue.json().get("items", []):
                if _param(item, "RESUME_REQUEST_ID") == wanted:
                    ref = JobRef(state=QUEUED, queue_id=str(item["id"]), detail=detail)
                    return await self.status(target, ref)
            builds = await self._get(
                self._job_path(target) + "/api/json",
                {"tree": f"builds[number,building,result,{_PARAMS_TREE}]{{0,200}}"},
            )
            if builds.status_code == 404:
                return None
            builds.raise_for_status()
            for build in builds.json().get("builds", []):
                if _param(build, "RESUME_REQUEST_ID") == wanted:
                    return self._from_build(target, build, JobRef(detail=detail))
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise http_error(exc, "Jenkins lookup") from None
        return None

    async def status(self, target: Target, ref: JobRef) -> JobRef:
        try:
            if ref.build_number is None:
                if ref.queue_id is None:
                    raise TriggerError("Jenkins gave no queue item for the trigger")
                item = await self._get(f"/queue/item/{quote(ref.queue_id, safe='')}/api/json")
                if item.status_code == 404:
                    # Jenkins forgets queue items a while after they start: find the build.
                    rid = ref.detail.get("resume_request_id")
                    if rid:
                        found = await self.find(target, _lookup(rid))
                        if found is not None:
                            return found
                    raise TriggerError("Jenkins no longer knows the queue item")
                item.raise_for_status()
                body = item.json()
                if body.get("cancelled"):
                    ref.state = ABORTED
                    return ref
                executable = body.get("executable") or {}
                if "number" not in executable:
                    ref.state = QUEUED
                    return ref
                ref.build_number = str(executable["number"])
            build = await self._get(
                f"{self._job_path(target)}/{quote(ref.build_number, safe='')}/api/json",
                {"tree": "number,building,result"},
            )
            build.raise_for_status()
            return self._from_build(target, build.json(), ref)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise http_error(exc, "Jenkins status") from None

    def _from_build(self, target: Target, build: dict[str, Any], ref: JobRef) -> JobRef:
        number = str(build["number"])
        ref.build_number = ref.job_id = number
        ref.job_url = self._build_url(target, number)
        if build.get("building") or build.get("result") is None:
            ref.state = RUNNING
        else:
            ref.state = _RESULTS.get(str(build["result"]).upper(), FAILED)
        return ref


def _param(obj: dict[str, Any], name: str) -> str | None:
    for action in obj.get("actions") or []:
        for parameter in (action or {}).get("parameters") or []:
            if parameter.get("name") == name:
                return str(parameter.get("value"))
    return None


def _lookup(resume_request_id: str) -> TriggerParams:
    return TriggerParams(build_id="", resume_from_state=0, resume_request_id=resume_request_id)
