"""The per-request shortcut of authentication: the request's Actor copied with its request id
(app.auth.with_request_id instead of dataclasses.replace). Same values, same answers, and a
revoked key still stops working."""

from __future__ import annotations

import dataclasses
import time

import pytest

from app.auth import resolve_actor, with_request_id
from app.services import keys
from app.services.actor import SYSTEM, Actor, expand_scopes
from app.services.errors import Unauthenticated
from app.services.keys import authenticate_key, create_key, hash_key, revoke_key
from app.settings import Settings
from tests.conftest import WRITE_KEY, unique

ACTORS = [
    Actor(name="ci"),
    Actor(name="w", scopes=expand_scopes(["write"]), kind="api_key"),
    Actor(name="j", scopes=frozenset({"read"}), kind="jwt", request_id="old"),
    SYSTEM,
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("request_id", [None, "", "abc", "x" * 64])
def test_with_request_id_is_dataclasses_replace(actor: Actor, request_id) -> None:
    fast = with_request_id(actor, request_id)
    slow = dataclasses.replace(actor, request_id=request_id)
    assert type(fast) is type(slow) is Actor
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert vars(fast) == vars(slow) and list(vars(fast)) == list(vars(slow))
    assert fast is not actor and actor.request_id == ACTORS[ACTORS.index(actor)].request_id
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.name = "changed"  # type: ignore[misc]


def test_actor_is_still_copied_by_its_dict() -> None:
    """with_request_id copies the instance dict, which is replace's result only while Actor has
    no __post_init__, no InitVar or init=False field and no slots: this fails if that changes."""
    assert not hasattr(Actor, "__post_init__") and not hasattr(Actor, "__slots__")
    assert all(f.init and f._field_type is dataclasses._FIELD  # type: ignore[attr-defined]
               for f in dataclasses.fields(Actor))
    assert set(vars(Actor(name="n"))) == {f.name for f in dataclasses.fields(Actor)}


def test_a_subclass_of_actor_takes_replace() -> None:
    @dataclasses.dataclass(frozen=True)
    class Other(Actor):
        extra: int = 1

        def __post_init__(self) -> None:
            object.__setattr__(self, "extra", self.extra + 1)

    other = Other(name="o")
    assert with_request_id(other, "r") == dataclasses.replace(other, request_id="r")


async def test_keys_answer_alike_and_a_revoked_key_stops_working(
    database: Settings, admin
) -> None:
    settings = database
    actor = await resolve_actor(WRITE_KEY, None, settings, "rid-1")
    assert actor is not None and actor.request_id == "rid-1"
    again = await resolve_actor(WRITE_KEY, None, settings, "rid-2")  # from the caches
    assert again == dataclasses.replace(actor, request_id="rid-2")
    with pytest.raises(Unauthenticated, match="invalid or revoked API key"):
        await authenticate_key("bs_no-such-key")
    with pytest.raises(Unauthenticated, match="invalid or revoked API key"):
        await authenticate_key("bs_no-such-key")  # the miss is cached as before

    created = await create_key(actor=admin, name=unique("h7"), scopes=["read"])
    assert (await authenticate_key(created.plain)).name == created.key.name
    # Revoked in this process: the caches are cleared, at once.
    await revoke_key(actor=admin, key_id=str(created.key.id))
    with pytest.raises(Unauthenticated):
        await authenticate_key(created.plain)

    # Revoked elsewhere (another process): within the rows' ttl.
    other = await create_key(actor=admin, name=unique("h7"), scopes=["read"])
    assert (await authenticate_key(other.plain)).name == other.key.name
    await keys.ApiKey.filter(id=other.key.id).update(revoked_at=keys.utcnow())
    assert (await authenticate_key(other.plain)).name == other.key.name  # within the ttl
    # The ttl passes (the row's expiry moved back rather than the clock forward).
    digest = hash_key(other.plain)
    expires, cached = keys.key_cache._rows[digest]
    assert expires <= time.monotonic() + keys.key_cache.ttl
    keys.key_cache._rows[digest] = (time.monotonic() - 0.001, cached)
    with pytest.raises(Unauthenticated):
        await authenticate_key(other.plain)
