"""The production profile: no GraphiQL, no introspection, no default or short secrets, no demo
keys."""

from __future__ import annotations

import pydantic
import pytest

from app.services.keys import ensure_demo_keys
from app.settings import DEV_ENCRYPTION_KEY, DEV_SECRET_KEY, Settings
from tests.hardening.conftest import serve

STRONG = {"secret_key": "s" * 40, "encryption_key": "e" * 40}
INTROSPECT = {"query": "{ __schema { queryType { name } } }"}


@pytest.mark.parametrize("secrets", [
    {},
    {"secret_key": DEV_SECRET_KEY, "encryption_key": "e" * 40},
    {"secret_key": "s" * 40, "encryption_key": DEV_ENCRYPTION_KEY},
    {"secret_key": "short", "encryption_key": "e" * 40},
    {"secret_key": "s" * 40, "encryption_key": "e" * 31},
])
def test_production_refuses_default_or_short_secrets(secrets):
    with pytest.raises(pydantic.ValidationError) as caught:
        Settings(env="production", **secrets)
    for value in secrets.values():  # the refusal names the setting, never a value
        assert value not in str(caught.value)


def test_production_accepts_strong_secrets():
    assert Settings(env="production", **STRONG).is_production


@pytest.mark.parametrize("name", ["webhook_inbound_secret", "generic_trigger_secret",
                                  "metrics_token"])
def test_production_refuses_short_shared_secrets(name):
    with pytest.raises(pydantic.ValidationError) as caught:
        Settings(env="production", **STRONG, **{name: "hunter2"})
    assert f"BUILDSTATE_{name.upper()}" in str(caught.value) and "hunter2" not in str(caught.value)
    assert Settings(env="production", **STRONG, **{name: "x" * 40}).is_production
    assert Settings(env="development", **{name: "hunter2"})  # development keeps short ones


async def test_production_never_creates_demo_keys(database: Settings):
    with pytest.raises(RuntimeError):
        await ensure_demo_keys(Settings(env="production", **STRONG))


async def test_production_turns_off_graphiql_and_introspection(database: Settings):
    production = database.model_copy(update={"env": "production", **STRONG})
    async with serve(production) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
        refused = (await http.post("/graphql", json=INTROSPECT)).json()
        assert refused["data"] is None
        assert refused["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
        typename = (await http.post("/graphql", json={"query": "{ __typename }"})).json()
        assert typename == {"data": {"__typename": "Query"}, "extensions": typename["extensions"]}
        works = (await http.post("/graphql", json={"query": "{ projects(first: 1) { id } }"}))
        assert "errors" not in works.json()

    async with serve(database) as http:  # development keeps both
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        answer = (await http.post("/graphql", json=INTROSPECT)).json()
        assert answer["data"]["__schema"]["queryType"]["name"] == "Query"
