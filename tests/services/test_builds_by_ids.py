"""`builds_by_ids` (hand-written SELECT, ORM instantiation) returns what the ORM query returns."""

from __future__ import annotations

import uuid

from app.services.builds import builds_by_ids
from db.models import Build
from tests import factories


def _values(build: Build) -> dict[str, object]:
    return {name: getattr(build, name) for name in Build._meta.db_fields}


async def test_the_same_models_as_the_orm_query(database, writer) -> None:
    pid, failed = await factories.seed_failed_build(writer)
    other = await factories.build(writer, pid)
    await Build.filter(id=other.id).update(metadata={"k": [1, {"v": None}]}, platform="vsphere")
    ids = [failed.id, other.id]

    # duplicates, a malformed id, an unknown id and str ids are all accepted, as before
    found = await builds_by_ids([str(failed.id), other.id, failed.id, "not-a-uuid", uuid.uuid4()])

    expected = {b.id: b for b in await Build.filter(id__in=ids)}
    assert set(found) == set(expected) == set(ids)
    for ident, build in found.items():
        assert _values(build) == _values(expected[ident])
        assert build._saved_in_db and not build._partial
    assert found[other.id].metadata == {"k": [1, {"v": None}]}
    assert found[failed.id].failed_state == 35
    assert await builds_by_ids([]) == {}
    assert await builds_by_ids(["nope"]) == {}
