"""deleteVariable"""

from __future__ import annotations

import strawberry

from app.services import variables
from schema.context import Info
from schema.loaders import as_uuid
from schema.mutations.base import attempt, result_union
from schema.permissions import CanWrite
from schema.types.errors import NotFoundError


@strawberry.type(description="The variable that was deleted.")
class VariableDeleted:
    build_id: strawberry.ID
    key: str


DeleteVariableResult = result_union("DeleteVariableResult", VariableDeleted, NotFoundError)


async def delete_variable(info: Info, build_id: strawberry.ID, key: str) -> DeleteVariableResult:
    async def run() -> VariableDeleted:
        await variables.delete_variable(
            actor=info.context.principal, build_id=str(build_id), key=key
        )
        ident = as_uuid(build_id)
        if ident is not None:
            if (loaders := info.context.loaders_made()) is not None:
                loaders.forget_variables(ident)
        return VariableDeleted(build_id=build_id, key=key)

    return await attempt(DeleteVariableResult, run)


field = strawberry.mutation(
    resolver=delete_variable, permission_classes=[CanWrite], description="Delete a build variable."
)
