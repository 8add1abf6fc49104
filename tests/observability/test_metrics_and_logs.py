"""/metrics (scopes, token, families, route templates) and the JSON logs (context, no secrets)."""

from __future__ import annotations

import io
import json
import logging
import re

from prometheus_client.parser import text_string_to_metric_families

from app.logging import JsonFormatter, RequestContext, ScrubSecrets, log_config, scrub
from app.services import resume
from app.services.commands import RequestResume
from app.settings import Settings
from db.models import (
    Build, Event, ResumeRequest, TriggerAttempt, WebhookDelivery, WebhookDeliveryAttempt,
    WebhookSubscription,
)
from tests import factories as f
from tests.conftest import READ_KEY, WRITE_KEY, unique


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def _orchestrator_and_webhook_rows(writer, build) -> None:
    """What the orchestrator and the webhook sender leave behind (their tables, read at scrape)."""
    request = await resume.request_resume(actor=writer, build_id=str(build.id),
                                          command=RequestResume(resume_reason="metrics"))
    await TriggerAttempt.create(resume_request_id=request.id, attempt=1, platform="jenkins",
                                worker="w1", status="failed", error="503")
    await TriggerAttempt.create(resume_request_id=request.id, attempt=2, platform="jenkins",
                                worker="w1", status="succeeded")
    sub = await WebhookSubscription.create(name=unique("hook"), url="http://127.0.0.1:9/x",
                                           events=["build.failed"], secret="x")
    event = await Event.filter(build_id=build.id).first()
    delivery = await WebhookDelivery.create(subscription_id=sub.id, event_id=event.id,
                                            status="delivered")
    await WebhookDeliveryAttempt.create(delivery_id=delivery.id, attempt=1, status_code=500)
    await WebhookDeliveryAttempt.create(delivery_id=delivery.id, attempt=2, status_code=204)


async def test_metrics_need_a_read_credential_and_describe_the_system(database, client, writer):
    _, build = await f.seed_failed_build(writer)
    await _orchestrator_and_webhook_rows(writer, build)
    assert (await client.get(f"/builds/{build.id}")).status_code == 200
    assert (await client.get("/metrics", headers={"X-API-Key": ""})).status_code == 401
    r = await client.get("/metrics", headers={"X-API-Key": READ_KEY})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    got = samples(r.text)
    failed = await Build.filter(status="failed").count()
    assert got[("buildstate_builds", (("status", "failed"),))] == failed
    assert got[("buildstate_builds", (("status", "cancelled"),))] >= 0
    assert got[("buildstate_http_requests_total", (
        ("method", "GET"), ("route", "/builds/{build_id}"), ("status", "200")))] >= 1
    assert ("buildstate_http_request_duration_seconds_count",
            (("method", "GET"), ("route", "/builds/{build_id}"))) in got
    names = {n for n, _ in got}
    for family in ("buildstate_db_pool_connections", "buildstate_cleanup_artifacts_total",
                   "buildstate_webhook_delivery_attempts_total", "buildstate_artifacts_expired_pending"):
        assert family in names, family
    assert got[("buildstate_resume_requests", (("source", "api"), ("status", "pending")))] == (
        await ResumeRequest.filter(status="pending", request_source="api").count())
    attempts = ("buildstate_orchestrator_trigger_attempts_total",
                (("platform", "jenkins"), ("status", "failed")))
    assert got[attempts] == await TriggerAttempt.filter(platform="jenkins", status="failed").count()
    assert got[("buildstate_orchestrator_trigger_failures_total", (("platform", "jenkins"),))] == got[attempts]
    assert got[("buildstate_webhook_deliveries", (("status", "delivered"),))] == (
        await WebhookDelivery.filter(status="delivered").count())
    sends = await WebhookDeliveryAttempt.all().count()
    assert got[("buildstate_webhook_delivery_attempts_total", (("outcome", "ok"),))] + got[
        ("buildstate_webhook_delivery_attempts_total", (("outcome", "failed"),))] == sends
    assert "# TYPE buildstate_resume_success_ratio gauge" in r.text
    # An id in a path never becomes a label value.
    assert str(build.id) not in r.text


async def test_a_metrics_token_scrapes_without_a_key(database, monkeypatch):
    import httpx
    from asgi_lifespan import LifespanManager

    from app.main import create_app

    monkeypatch.setenv("BUILDSTATE_METRICS_TOKEN", "prom-token-0123456789")
    settings = Settings(database_url=database.database_url)  # read from the environment
    monkeypatch.delenv("BUILDSTATE_METRICS_TOKEN")
    app = create_app(settings, manage_db=False)
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            ok = await http.get("/metrics", headers={"Authorization": "Bearer prom-token-0123456789"})
            assert ok.status_code == 200 and "buildstate_builds" in ok.text
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            elsewhere = await http.get("/builds", headers={"Authorization": "Bearer prom-token-0123456789"})
            assert elsewhere.status_code == 401  # the token opens /metrics and nothing else


def _capture(logger_name: str) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.addFilter(RequestContext())
    handler.addFilter(ScrubSecrets())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, buf, handler


def test_scrubbing_masks_credentials_wherever_they_appear():
    logger, buf, handler = _capture("buildstate.test.scrub")
    try:
        jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZXYifQ.c2lnbmF0dXJlLXNpZ24"
        logger.info("headers %s", [(b"x-api-key", b"dev-key-12345"), (b"authorization", b"Bearer abc.def")])
        logger.info("X-API-Key: admin-key-99999 and Authorization: Bearer %s", jwt)
        logger.info("calling", extra={"api_key": "bs_abcdefghijklmnopqrstuvwxyz", "secret": "hunter2",
                                      "payload": {"token": "t0k3n", "name": "kept"}})
        try:
            raise RuntimeError("password=hunter2 rejected")
        except RuntimeError:
            logger.exception("failed with key bs_ZYXWVUTSRQPONMLKJIHGFEDCBA")
    finally:
        logging.getLogger("buildstate.test.scrub").removeHandler(handler)
    text = buf.getvalue()
    for secret in ("dev-key-12345", "admin-key-99999", jwt, "abc.def", "hunter2", "t0k3n",
                   "bs_abcdefghijklmnopqrstuvwxyz", "bs_ZYXWVUTSRQPONMLKJIHGFEDCBA"):
        assert secret not in text, secret
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[2]["payload"] == {"token": "***", "name": "kept"}
    assert {"time", "level", "logger", "message", "request_id", "actor"} <= set(lines[0])
    assert "exception" in lines[3]
    assert scrub("nothing secret here: build 42 failed") == "nothing secret here: build 42 failed"


async def test_request_logs_carry_request_id_and_actor_never_the_key(database, client):
    logger, buf, handler = _capture("buildstate.access")
    try:
        r = await client.get("/builds", params={"token": "sneaky-query-secret"},
                             headers={"X-Request-ID": "req-abc-123", "X-API-Key": WRITE_KEY})
        assert r.status_code == 200
    finally:
        logger.removeHandler(handler)
    [line] = [json.loads(x) for x in buf.getvalue().splitlines() if "req-abc-123" in x]
    assert line["request_id"] == "req-abc-123" and line["actor"] == "dev"
    assert line["status"] == 200 and line["route"] == "/builds"
    assert WRITE_KEY not in buf.getvalue() and "sneaky-query-secret" not in buf.getvalue()


def test_uvicorn_loggers_go_through_the_same_handler():
    config = log_config("INFO", "json")
    assert config["loggers"]["uvicorn.error"]["handlers"] == ["default"]
    assert config["loggers"]["uvicorn.access"]["handlers"] == []
    assert config["handlers"]["default"]["filters"] == ["context", "scrub"]
    assert re.match(r"^app\.logging\.", config["formatters"]["json"]["()"])
