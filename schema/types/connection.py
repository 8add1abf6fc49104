"""Relay-style pagination of builds (newest first)."""

from __future__ import annotations

import strawberry

from schema.types.build import Build


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")


@strawberry.type
class BuildEdge:
    node: Build
    cursor: str


@strawberry.type(description="A page of builds, newest first.")
class BuildConnection:
    edges: list[BuildEdge]
    page_info: PageInfo
