"""setVariable"""

from __future__ import annotations

import strawberry

from app.services import variables
from app.services.commands import SetVariable
from schema.context import Info
from schema.enums import VariableType
from schema.mutations.base import (
    IdempotencyKey,
    attempt_once,
    built_directly,
    command,
    given,
    result_union,
)
from schema.permissions import CanWrite
from schema.types.errors import NotFoundError, ValidationError
from schema.types.variable import Variable


@built_directly
@strawberry.input(description="Set a variable by key; flags not given keep their stored values.")
class SetVariableInput:
    key: str
    value: str
    type: VariableType | None = strawberry.UNSET
    set_at_state: int | None = strawberry.UNSET
    is_sensitive: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Encrypted at rest and masked when true."
    )
    is_required_for_resume: bool | None = strawberry.UNSET


@strawberry.type(description="The variable as stored (masked when sensitive).")
class VariableSet:
    variable: Variable
    created: bool = strawberry.field(description="False when an existing key was replaced.")


SetVariableResult = result_union("SetVariableResult", VariableSet, NotFoundError, ValidationError)

_NAMES = {"key": "variable_key", "value": "variable_value", "type": "variable_type"}
_INPUT_NAMES = {"variableKey": "key", "variableValue": "value", "variableType": "type"}


async def set_variable(
    info: Info, build_id: strawberry.ID, input: SetVariableInput,
    idempotency_key: IdempotencyKey = None,
) -> SetVariableResult:
    async def run() -> VariableSet:
        data = {_NAMES.get(k, k): v for k, v in given(input).items()}
        result = await variables.set_variable(
            actor=info.context.principal, build_id=str(build_id),
            command=command(SetVariable, data),
        )
        if (loaders := info.context.loaders_made()) is not None:
            loaders.forget_variables(result.variable.build_id)
        return VariableSet(variable=Variable.from_view(result.variable), created=result.created)

    async def reload(ref: dict) -> VariableSet:
        view = await variables.get_variable(
            actor=info.context.principal, build_id=ref["build_id"], key=ref["key"]
        )
        return VariableSet(variable=Variable.from_view(view), created=ref["created"])

    return await attempt_once(
        info, SetVariableResult, run, key=idempotency_key, operation="setVariable",
        arguments={"buildId": str(build_id), "input": strawberry.asdict(input)},
        ref=lambda r: {"build_id": str(r.variable.build_id), "key": r.variable.key,
                       "created": r.created},
        reload=reload, fields=_INPUT_NAMES,
    )


field = strawberry.mutation(
    resolver=set_variable, permission_classes=[CanWrite],
    description="Create or replace a build variable (upsert by key).",
)
