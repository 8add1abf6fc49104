"""Build variables, always as a caller may see them (sensitive values masked)."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from app.services.variables import VariableView
from schema.enums import VariableType


@strawberry.type(description="What a build learned (a VM id, a network id…).")
class Variable:
    id: strawberry.ID
    build_id: strawberry.Private[uuid.UUID]
    key: str
    value: str = strawberry.field(
        description='The value; "******" when sensitive, unless an admin asked to reveal it.'
    )
    type: VariableType
    set_at_state: int | None
    is_sensitive: bool
    is_required_for_resume: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_view(cls, v: VariableView) -> Variable:
        """Built from the service's view, never from a row: the view is where masking happens."""
        return cls(
            id=strawberry.ID(str(v.id)), build_id=v.build_id, key=v.variable_key,
            value=v.variable_value, type=VariableType(v.variable_type),
            set_at_state=v.set_at_state, is_sensitive=v.is_sensitive,
            is_required_for_resume=v.is_required_for_resume, version=v.version,
            created_at=v.created_at, updated_at=v.updated_at,
        )
