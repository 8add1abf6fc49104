"""A fake Concourse: the job-builds API (create, list) and the build API, behind a bearer token."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import Call, FakeServer, Reply


@dataclass
class FakeConcourse(FakeServer):
    team: str = "main"
    token: str = "concourse-bearer-token"
    fail_next: int = 0
    fail_always: bool = False
    trigger_delay: float = 0.0
    builds: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        job = r"/api/v1/teams/(?P<team>[^/]+)/pipelines/(?P<pipeline>[^/]+)/jobs/(?P<job>[^/]+)/builds"
        self.route("POST", job, self._create)
        self.route("GET", job, self._list)
        self.route("GET", r"/api/v1/builds/(?P<id>\d+)", self._get)

    def triggers(self) -> list[dict[str, str]]:
        with self.lock:
            return [b["params"] for b in self.builds]

    def finish(self, resume_request_id: str, status: str = "succeeded") -> dict[str, Any]:
        with self.lock:
            for build in self.builds:
                if build["params"].get("RESUME_REQUEST_ID") == resume_request_id:
                    build["status"] = status
                    return build
        raise KeyError(resume_request_id)

    def _authorised(self, call: Call) -> bool:
        return call.headers.get("authorization") == f"Bearer {self.token}"

    def _create(self, call: Call, match: re.Match) -> Reply:
        if not self._authorised(call):
            return Reply(401, b"not authorized")
        if match["team"] != self.team:
            return Reply(404)
        with self.lock:
            if self.fail_always or self.fail_next > 0:
                self.fail_next = max(0, self.fail_next - 1)
                return Reply(500, b"fake Concourse: internal error")
            same_job = [b for b in self.builds
                        if (b["pipeline_name"], b["job_name"]) == (match["pipeline"], match["job"])]
            build = {
                "id": len(self.builds) + 1000, "name": str(len(same_job) + 1), "status": "started",
                "team_name": match["team"], "pipeline_name": match["pipeline"],
                "job_name": match["job"], "params": (call.json() or {}).get("params", {}),
            }
            self.builds.append(build)
        if self.trigger_delay:
            time.sleep(self.trigger_delay)
        return Reply(200, build)

    def _list(self, call: Call, match: re.Match) -> Reply:
        if not self._authorised(call):
            return Reply(401)
        with self.lock:
            found = [b for b in self.builds
                     if (b["pipeline_name"], b["job_name"]) == (match["pipeline"], match["job"])]
        return Reply(200, list(reversed(found)))

    def _get(self, call: Call, match: re.Match) -> Reply:
        if not self._authorised(call):
            return Reply(401)
        with self.lock:
            for build in self.builds:
                if build["id"] == int(match["id"]):
                    return Reply(200, build)
        return Reply(404)
