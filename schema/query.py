"""Root queries. Every field declares the scope it needs."""

from __future__ import annotations

from datetime import datetime

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode

from app.services import builds as build_service
from app.services import projects as project_service
from app.services import resume as resume_service
# WORKAROUND (schema-only): the services expose no public per-row cursor; wanted:
# `app.services.builds.encode_cursor(build)`. Edge cursors must be the ones `after` accepts.
from app.services.builds import encode_cursor
from app.services.errors import NotFound, ValidationFailed
from schema.context import Info
from schema.enums import BuildStatus
from schema.loaders import as_uuid
from schema.permissions import CanRead, IsAdmin
from schema.types.build import Build
from schema.types.connection import BuildConnection, BuildEdge, PageInfo
from schema.types.event import EventConnection, EventFilter, audit_events
from schema.types.project import Project
from schema.types.resume import ResumeRequest
from schema.types.stats import Stats, resolve_stats
from schema.types.webhook import (
    WebhookDelivery,
    WebhookSubscription,
    resolve_deliveries,
    resolve_subscriptions,
)


def _selects(info: Info, name: str) -> bool:
    """Whether the field's own selection (fragments included, directives ignored) has `name`."""
    raw = info._raw_info  # the graphql-core info: its AST, without Strawberry's conversion
    stack = [s for node in raw.field_nodes if node.selection_set
             for s in node.selection_set.selections]
    seen: set[str] = set()
    while stack:
        selection = stack.pop()
        if isinstance(selection, FieldNode):
            if selection.name.value == name:
                return True
        elif isinstance(selection, InlineFragmentNode):
            stack.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = raw.fragments.get(selection.name.value)
            if fragment is not None:
                stack.extend(fragment.selection_set.selections)
    return False


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[CanRead],
        description="A build by id; null when no build has that id (a malformed id included).",
    )
    async def build(self, info: Info, id: strawberry.ID) -> Build | None:
        key = as_uuid(id)
        if key is None:
            return None
        loaders = info.context.loaders
        if not _selects(info, "resumeContext"):
            row = await loaders.build.load(key)
            return Build.from_model(row) if row else None
        # Asked for its resume context too (the read every resume job makes): the build and the
        # context in one statement instead of two; the context's loader is primed with it.
        pair = await loaders.build_with_context.load(key)
        if pair is None:
            return None
        row, data = pair
        loaders.build.prime(key, row)
        loaders.resume_context.prime(key, data)
        return Build.from_model(row)

    @strawberry.field(
        permission_classes=[CanRead],
        description="Builds, newest first, as a Relay connection. `first` is 1 to 100.",
    )
    async def builds(
        self,
        info: Info,
        project_id: strawberry.ID | None = None,
        status: BuildStatus | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> BuildConnection:
        limit = info.context.settings.graphql_max_page_size
        if not 1 <= first <= limit:
            raise ValidationFailed(f"first must be between 1 and {limit}", field="first")
        page = await build_service.list_builds(
            actor=info.context.principal, project_id=project_id,
            status=status.value if status else None, limit=first, after=after,
        )
        for row in page.builds:
            info.context.loaders.build.prime(row.id, row)
        return BuildConnection(
            edges=[BuildEdge(node=Build.from_model(b), cursor=encode_cursor(b)) for b in page.builds],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field(permission_classes=[CanRead], description="A project by its slug id.")
    async def project(self, info: Info, id: strawberry.ID) -> Project | None:
        row = await info.context.loaders.project.load(str(id))
        return Project.from_model(row) if row else None

    @strawberry.field(permission_classes=[CanRead], description="Projects, ordered by id.")
    async def projects(self, info: Info, first: int = 100, offset: int = 0) -> list[Project]:
        limit = info.context.settings.graphql_max_page_size
        if not 1 <= first <= limit:
            raise ValidationFailed(f"first must be between 1 and {limit}", field="first")
        if offset < 0:
            raise ValidationFailed("offset must not be negative", field="offset")
        rows = await project_service.list_projects(
            actor=info.context.principal, limit=first, offset=offset
        )
        return [Project.from_model(p) for p in rows]

    @strawberry.field(
        permission_classes=[CanRead],
        description="A resume request by id; null when none has that id.",
    )
    async def resume_request(self, info: Info, id: strawberry.ID) -> ResumeRequest | None:
        try:
            row = await resume_service.get_resume_request(
                actor=info.context.principal, request_id=str(id)
            )
        except NotFound:
            return None
        return ResumeRequest.from_model(row)

    @strawberry.field(
        permission_classes=[CanRead],
        description="The audit trail, filtered, in id order (newest first on request); "
        "`first` is 1 to 500, `after` the previous page's endCursor.",
    )
    async def audit_events(
        self, info: Info, filter: EventFilter | None = None, first: int = 50,
        after: str | None = None, newest_first: bool = False,
    ) -> EventConnection:
        return await audit_events(info, filter, first, after, newest_first)

    @strawberry.field(
        permission_classes=[CanRead],
        description="Builds by status, failures by state, resume success, time to resume and "
        "build minutes saved; for one project or all, since a time or ever.",
    )
    async def stats(
        self, info: Info, project_id: strawberry.ID | None = None, since: datetime | None = None
    ) -> Stats:
        return await resolve_stats(info, project_id, since)

    @strawberry.field(permission_classes=[IsAdmin],
                      description="Outbound webhook subscriptions (admin; secrets are not shown).")
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscription]:
        return await resolve_subscriptions(info)

    @strawberry.field(
        permission_classes=[IsAdmin],
        description="A subscription's deliveries, newest event first, each with its attempts "
        "(admin); `first` is 1 to 100, `status` pending, delivered or failed.",
    )
    async def webhook_deliveries(
        self, info: Info, subscription_id: strawberry.ID, first: int = 20,
        status: str | None = None,
    ) -> list[WebhookDelivery]:
        return await resolve_deliveries(info, subscription_id, first, status)
