"""Test data built through the services themselves."""

from __future__ import annotations

from app.services import artifacts, builds, projects, resumable, variables
from app.services.actor import Actor
from app.services.commands import (
    CreateBuild,
    CreateProject,
    DefineResumableState,
    DefineStateCode,
    RecordFailure,
    RegisterArtifact,
    SetVariable,
    TransitionBuild,
)
from tests.conftest import unique

SEED_STATES = [(0, "pending"), (10, "provision"), (20, "install packages"), (30, "configure"),
               (35, "harden"), (40, "snapshot"), (100, "complete")]


async def project(actor: Actor, *, with_states: bool = True, **kw) -> str:
    pid = unique("proj")
    await projects.create_project(actor=actor, command=CreateProject(id=pid, name=pid, **kw))
    if with_states:
        for code, name in SEED_STATES:
            await projects.define_state_code(
                actor=actor, project_id=pid,
                command=DefineStateCode(code=code, name=name, is_initial=code == 0,
                                        is_final=code == 100),
            )
    return pid


async def build(actor: Actor, project_id: str, number: int | None = None):
    import random

    return await builds.create_build(
        actor=actor,
        command=CreateBuild(project_id=project_id, build_number=number or random.randint(1, 2**31 - 2)),
    )


async def move(actor: Actor, build_id, code: int, status: str = "completed"):
    return await builds.transition_build(
        actor=actor, build_id=str(build_id), command=TransitionBuild(state_code=code, status=status)
    )


async def seed_failed_build(actor: Actor, *, with_states: bool = True, configure: bool = False):
    """The seed's example: states 10..30 completed, 35 failed -> current 30, failed 35."""
    pid = await project(actor, with_states=with_states)
    b = await build(actor, pid)
    for code in (10, 20, 30):
        await move(actor, b.id, code, "in_progress")
        await move(actor, b.id, code, "completed")
    await artifacts.register_artifact(
        actor=actor, build_id=str(b.id),
        command=RegisterArtifact(
            state_code=20, artifact_name="rhel9-snapshot-001", artifact_type="vm_snapshot",
            artifact_path="s3://my-bucket/snapshots/snapshot-001.vmdk", storage_backend="s3",
            metadata={"vm_id": "i-abc123", "snapshot_id": "snap-xyz789"},
        ),
    )
    await variables.set_variable(
        actor=actor, build_id=str(b.id),
        command=SetVariable(variable_key="vm_instance_id", variable_value="i-0123456789abcdef",
                            set_at_state=20, is_required_for_resume=True),
    )
    if configure:
        await resumable.define_resumable_state(
            actor=actor, project_id=pid,
            command=DefineResumableState(
                state_code=35, required_artifacts=["rhel9-snapshot-001"],
                required_variables=["vm_instance_id"], resume_command="make harden",
            ),
        )
    failed = await builds.record_failure(
        actor=actor, build_id=str(b.id),
        command=RecordFailure(state_code=35, error_message="Network timeout", retryable=True),
    )
    return pid, failed
