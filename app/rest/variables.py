"""Variables of a build (seed: /builds/{build_id}/variables)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from app.rest.deps import ExpectedVersion, Reader, Writer
from app.rest.schemas import VariableOut
from app.services import variables
from app.services.commands import SetVariable, UpdateVariable

router = APIRouter(tags=["Variables"])
REVEAL = Query(False, description="Admin only, audited: show sensitive values in clear")


@router.post(
    "/builds/{build_id}/variables", status_code=201, response_model=VariableOut,
    responses={200: {"model": VariableOut, "description": "An existing key was replaced"}},
)
async def set_variable(build_id: str, body: SetVariable, actor: Writer, response: Response):
    """Set a variable: 201 when created, 200 when an existing key is replaced."""
    result = await variables.set_variable(actor=actor, build_id=build_id, command=body)
    response.status_code = 201 if result.created else 200
    return result.variable


@router.get("/builds/{build_id}/variables", response_model=list[VariableOut])
async def list_variables(build_id: str, actor: Reader, reveal: bool = REVEAL):
    """List all variables (sensitive values masked)."""
    return await variables.list_variables(actor=actor, build_id=build_id, reveal=reveal)


@router.get("/builds/{build_id}/variables/dict", response_model=dict[str, str])
async def variables_dict(build_id: str, actor: Reader, reveal: bool = REVEAL):
    """Variables as a key-value dictionary."""
    rows = await variables.list_variables(actor=actor, build_id=build_id, reveal=reveal)
    return {v.variable_key: v.variable_value for v in rows}


@router.get("/builds/{build_id}/variables/{variable_key}", response_model=VariableOut)
async def get_variable(build_id: str, variable_key: str, actor: Reader, reveal: bool = REVEAL):
    """Get one variable."""
    return await variables.get_variable(
        actor=actor, build_id=build_id, key=variable_key, reveal=reveal
    )


@router.patch("/builds/{build_id}/variables/{variable_key}", response_model=VariableOut)
async def update_variable(
    build_id: str, variable_key: str, body: UpdateVariable, actor: Writer,
    version: ExpectedVersion,
):
    """Update a variable's value or flags."""
    return await variables.update_variable(
        actor=actor, build_id=build_id, key=variable_key, command=body, expected_version=version
    )


@router.delete("/builds/{build_id}/variables/{variable_key}", status_code=204)
async def delete_variable(build_id: str, variable_key: str, actor: Writer):
    """Delete a variable."""
    await variables.delete_variable(actor=actor, build_id=build_id, key=variable_key)
    return Response(status_code=204)
