"""Outbound webhooks: signed deliveries from the outbox, in order per build, retried until the
receiver is back; subscriptions and the delivery log through REST."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import httpx
import pytest

from app.services import resume, webhooks
from app.services.commands import RequestResume
from app.services.errors import Forbidden
from app.services.orchestration.runtime import worker_name
from app.services.webhook_delivery import Sender
from app.settings import Settings
from app.workers import webhook_sender
from db.models import Event, WebhookDelivery
from tests import factories
from tests.conftest import ADMIN_KEY
from tests.fakes.receiver import Received, WebhookReceiver
from tests.workers.conftest import FAST


@pytest.fixture
def sender_settings(database: Settings) -> Settings:
    return database.model_copy(update={**FAST, "webhook_max_attempts": 100})


@pytest.fixture
def receiver():
    with WebhookReceiver() as fake:
        yield fake


async def _subscribe(admin, receiver: WebhookReceiver, events=("*",), project_id=None):
    created = await webhooks.create_subscription(actor=admin, command=webhooks.CreateSubscription(
        name="ci-dashboard", url=receiver.url + "/hooks/buildstate", events=list(events),
        project_id=project_id))
    receiver.secret = created.secret
    return created.subscription


async def _activity(writer) -> list:
    """Two failed builds and a resume request: every outbound event type but completion."""
    builds = []
    for _ in range(2):
        _, build = await factories.seed_failed_build(writer)
        builds.append(build)
    await resume.request_resume(actor=writer, build_id=str(builds[0].id),
                                command=RequestResume(resume_reason="flaky network"))
    return builds


async def _expected(subscription, build_ids) -> dict[str, list[int]]:
    events = await Event.filter(build_id__in=build_ids, action__in=webhooks.EVENT_TYPES,
                                created_at__gte=subscription.created_at).order_by("id")
    out: dict[str, list[int]] = defaultdict(list)
    for event in events:
        out[str(event.build_id)].append(event.id)
    return out


def _received_by_build(received: list[Received]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for item in received:
        out[item.payload["data"]["build_id"]].append(item.payload["data"]["event_id"])
    return out


async def _drain(sender: Sender, subscription, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        await sender.step()
        latest = await Event.all().order_by("-id").first()
        cursor = await sender_cursor()
        pending = await WebhookDelivery.filter(subscription_id=subscription.id,
                                               status="pending").count()
        if cursor >= latest.id and pending == 0:
            return
        assert time.monotonic() < deadline, f"{pending} deliveries still pending"
        await asyncio.sleep(0.02)


async def sender_cursor() -> int:
    from db.models import WorkerCursor

    row = await WorkerCursor.get_or_none(name="webhook-sender")
    return row.position if row else 0


async def test_every_delivery_is_signed_and_in_order_per_build(
    sender_settings: Settings, receiver: WebhookReceiver, admin, writer
) -> None:
    subscription = await _subscribe(admin, receiver)
    builds = await _activity(writer)
    async with httpx.AsyncClient() as http:
        await _drain(Sender(settings=sender_settings, http=http, worker=worker_name("t")),
                     subscription)
    assert receiver.received and all(r.verified for r in receiver.received)
    assert _received_by_build(receiver.delivered()) == await _expected(
        subscription, [b.id for b in builds])
    types = {r.payload["type"] for r in receiver.delivered()}
    assert {"build.state_changed", "artifact.registered", "build.failed",
            "resume.requested"} <= types
    first = receiver.delivered()[0]
    assert first.msg_id == first.payload["id"] and first.payload["id"].startswith("evt_")


async def test_a_receiver_down_for_a_while_gets_every_event_later_in_order(
    sender_settings: Settings, receiver: WebhookReceiver, admin, writer
) -> None:
    subscription = await _subscribe(admin, receiver)
    receiver.stop()  # connection refused
    stop = asyncio.Event()
    worker = asyncio.create_task(webhook_sender.serve(sender_settings, stop))
    try:
        builds = await _activity(writer)

        async def attempted(at_least: int) -> bool:
            rows = await WebhookDelivery.filter(subscription_id=subscription.id)
            return sum(r.attempts for r in rows) >= at_least

        while not await attempted(4):
            await asyncio.sleep(0.05)
        receiver.start()
        receiver.failing = True  # up, but answering 503 for a while longer
        while not receiver.calls("POST"):
            await asyncio.sleep(0.05)
        more = await _activity(writer)  # events keep coming while it is unwell
        receiver.failing = False
        expected = await _expected(subscription, [b.id for b in builds + more])
        deadline = time.monotonic() + 30
        while _received_by_build(receiver.delivered()) != expected:
            assert time.monotonic() < deadline, "not everything arrived"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 15)
    assert all(r.verified for r in receiver.received)
    # Order per build: each build's events arrived oldest first (checked above, as lists),
    # and no later event of a build was ever sent before an earlier one was delivered.
    for build_events in _received_by_build(receiver.delivered()).values():
        assert build_events == sorted(build_events)
    failed_first = await WebhookDelivery.filter(
        subscription_id=subscription.id, attempts__gt=1, status="delivered").count()
    assert failed_first >= 1


async def test_subscriptions_and_delivery_log_over_rest(
    client: httpx.AsyncClient, sender_settings: Settings, receiver: WebhookReceiver, writer
) -> None:
    admin_headers = {"X-API-Key": ADMIN_KEY}
    r = await client.post("/webhook-subscriptions", headers=admin_headers, json={
        "name": "audit", "url": receiver.url + "/in", "events": ["build.failed"]})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and created["events"] == ["build.failed"]
    receiver.secret = created["secret"]
    assert (await client.post("/webhook-subscriptions", json={
        "name": "x", "url": receiver.url, "events": ["*"]})).status_code == 403  # writer
    bad = await client.post("/webhook-subscriptions", headers=admin_headers, json={
        "name": "x", "url": "ftp://example.org/", "events": ["build.exploded"]})
    assert bad.status_code == 422

    receiver.failing = True
    _, build = await factories.seed_failed_build(writer)
    async with httpx.AsyncClient() as http:
        sender = Sender(settings=sender_settings, http=http, worker=worker_name("t"))
        await sender.step()
        receiver.failing = False
        subscription = await webhooks.get_subscription(
            actor=factories_admin(), subscription_id=created["id"])
        await asyncio.sleep(0.3)
        await _drain(sender, subscription)
    [got] = receiver.delivered()
    assert got.payload["type"] == "build.failed" and got.payload["data"]["build_id"] == str(build.id)

    listed = await client.get("/webhook-subscriptions", headers=admin_headers)
    assert created["id"] in [s["id"] for s in listed.json()]
    assert all("secret" not in s for s in listed.json())
    log = (await client.get(f"/webhook-subscriptions/{created['id']}/deliveries",
                            headers=admin_headers)).json()
    [delivery] = log
    assert delivery["status"] == "delivered" and delivery["attempts"] >= 2
    assert [a["status_code"] for a in delivery["attempt_log"]][-1] == 200
    assert delivery["attempt_log"][0]["status_code"] == 503
    gone = await client.delete(f"/webhook-subscriptions/{created['id']}", headers=admin_headers)
    assert gone.status_code == 200
    missing = await client.get(f"/webhook-subscriptions/{created['id']}", headers=admin_headers)
    assert missing.status_code == 404


async def test_project_and_event_filters(admin, writer, receiver) -> None:
    pid = await factories.project(writer)
    other = await factories.project(writer)
    subscription = await _subscribe(admin, receiver, events=("build.failed",), project_id=pid)
    assert webhooks.matches(subscription, "build.failed", pid)
    assert not webhooks.matches(subscription, "build.failed", other)
    assert not webhooks.matches(subscription, "build.state_changed", pid)
    assert not webhooks.matches(subscription, "variable.set", pid)
    with pytest.raises(Forbidden):
        await webhooks.list_subscriptions(actor=writer)


def test_standard_webhooks_signature_round_trip() -> None:
    secret = webhooks.generate_secret()
    body = b'{"type":"build.failed"}'
    headers = webhooks.signed_headers(secret, "evt_1", body, timestamp=int(time.time()))
    webhooks.verify_signature(secret, headers, body)
    from app.services.errors import Unauthenticated

    for tampered in (body + b" ", b"{}"):
        with pytest.raises(Unauthenticated):
            webhooks.verify_signature(secret, headers, tampered)
    old = webhooks.signed_headers(secret, "evt_1", body, timestamp=int(time.time()) - 3600)
    with pytest.raises(Unauthenticated, match="window"):
        webhooks.verify_signature(secret, old, body)


def factories_admin():
    from tests.conftest import make_actor

    return make_actor("admin", "admin")
