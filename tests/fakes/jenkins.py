"""A fake Jenkins: buildWithParameters, the crumb issuer, the queue and job/build JSON APIs."""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.server import Call, FakeServer, Reply

CRUMB = "fake-crumb-0123"


@dataclass
class FakeBuild:
    number: int
    job: str
    params: dict[str, str]
    building: bool = True
    result: str | None = None

    def as_json(self, base: str) -> dict[str, Any]:
        return {
            "number": self.number, "building": self.building, "result": self.result,
            "url": f"{base}/job/{self.job}/{self.number}/",
            "actions": [{"parameters": [{"name": k, "value": v} for k, v in self.params.items()]}],
        }


@dataclass
class QueueItem:
    id: int
    job: str
    params: dict[str, str]
    build: FakeBuild | None = None
    cancelled: bool = False


@dataclass
class FakeJenkins(FakeServer):
    user: str = "ci-bot"
    token: str = "jenkins-api-token"
    require_crumb: bool = False
    start_immediately: bool = True
    fail_next: int = 0  # answer the next N triggers with a 500
    fail_always: bool = False
    trigger_delay: float = 0.0  # seconds to hold the trigger's answer after queueing it
    queue: dict[int, QueueItem] = field(default_factory=dict)
    builds: dict[str, list[FakeBuild]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()
        job = r"/job/(?P<job>[^/]+(?:/job/[^/]+)?)"
        self.route("GET", r"/crumbIssuer/api/json", self._crumb)
        self.route("POST", job + r"/buildWithParameters", self._trigger)
        self.route("GET", r"/queue/api/json", self._queue)
        self.route("GET", r"/queue/item/(?P<id>\d+)/api/json", self._queue_item)
        self.route("GET", job + r"/api/json", self._job)
        self.route("GET", job + r"/(?P<number>\d+)/api/json", self._build)

    # --- what tests look at and steer ---------------------------------------------------

    def triggers(self) -> list[dict[str, str]]:
        """The parameters of every accepted buildWithParameters call."""
        with self.lock:
            return [item.params for item in sorted(self.queue.values(), key=lambda i: i.id)]

    def trigger_calls(self) -> list[Call]:
        return self.calls("POST", r"/buildWithParameters$")

    def all_builds(self) -> list[FakeBuild]:
        with self.lock:
            return [b for builds in self.builds.values() for b in builds]

    def start_queued(self) -> None:
        with self.lock:
            for item in self.queue.values():
                if item.build is None and not item.cancelled:
                    self._start(item)

    def finish(self, resume_request_id: str, result: str = "SUCCESS") -> FakeBuild:
        with self.lock:
            for build in self.all_builds():
                if build.params.get("RESUME_REQUEST_ID") == resume_request_id:
                    build.building, build.result = False, result
                    return build
        raise KeyError(resume_request_id)

    # --- the API ------------------------------------------------------------------------

    def _authorised(self, call: Call) -> bool:
        expected = base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
        return call.headers.get("authorization") == f"Basic {expected}"

    def _crumb(self, call: Call, match: re.Match) -> Reply:
        if not self.require_crumb:
            return Reply(404)
        return Reply(200, {"crumb": CRUMB, "crumbRequestField": "Jenkins-Crumb"})

    def _trigger(self, call: Call, match: re.Match) -> Reply:
        if not self._authorised(call):
            return Reply(401, b"unauthorised")
        if self.require_crumb and call.headers.get("jenkins-crumb") != CRUMB:
            return Reply(403, b"No valid crumb was included in the request")
        with self.lock:
            if self.fail_always or self.fail_next > 0:
                self.fail_next = max(0, self.fail_next - 1)
                return Reply(500, b"fake Jenkins: internal error")
            item = QueueItem(id=len(self.queue) + 1, job=match["job"], params=call.form())
            self.queue[item.id] = item
            if self.start_immediately:
                self._start(item)
        if self.trigger_delay:
            time.sleep(self.trigger_delay)
        return Reply(201, headers={"Location": f"{self.url}/queue/item/{item.id}/"})

    def _start(self, item: QueueItem) -> None:
        builds = self.builds.setdefault(item.job, [])
        item.build = FakeBuild(number=len(builds) + 1, job=item.job, params=item.params)
        builds.append(item.build)

    def _queue(self, call: Call, match: re.Match) -> Reply:
        if not self._authorised(call):
            return Reply(401)
        with self.lock:
            items = [
                {"id": i.id, "task": {"name": i.job.split("/")[-1]},
                 "actions": [{"parameters": [{"name": k, "value": v} for k, v in i.params.items()]}]}
                for i in self.queue.values() if i.build is None and not i.cancelled
            ]
        return Reply(200, {"items": items})

    def _queue_item(self, call: Call, match: re.Match) -> Reply:
        if not self._authorised(call):
            return Reply(401)
        with self.lock:
            item = self.queue.get(int(match["id"]))
            if item is None:
                return Reply(404)
            body: dict[str, Any] = {"id": item.id, "cancelled": item.cancelled}
            if item.build is not None:
                body["executable"] = {"number": item.build.number,
                                      "url": item.build.as_json(self.url)["url"]}
        return Reply(200, body)

    def _job(self, call: Call, match: re.Match) -> Reply:
        if not self._authorised(call):
            return Reply(401)
        with self.lock:
            builds = self.builds.get(match["job"], [])
            return Reply(200, {"builds": [b.as_json(self.url) for b in reversed(builds)]})

    def _build(self, call: Call, match: re.Match) -> Reply:
        if not self._authorised(call):
            return Reply(401)
        with self.lock:
            for build in self.builds.get(match["job"], []):
                if build.number == int(match["number"]):
                    return Reply(200, build.as_json(self.url))
        return Reply(404)
