"""GraphQL enums, built from the domain's own enums so that both always agree."""

from __future__ import annotations

import strawberry

from app.services import commands

BuildStatus = strawberry.enum(commands.BuildStatus, description="Where a build is in its life.")
StateStatus = strawberry.enum(commands.StateStatus, description="Status of one state entry.")
ResumeStatus = strawberry.enum(
    commands.ResumeStatus,
    description="pending → triggered → running → completed | failed; pending | triggered → cancelled.",
)
ResumeStrategy = strawberry.enum(commands.ResumeStrategy, description="How a state is resumed.")
RequestSource = strawberry.enum(commands.RequestSource, description="Who filed a resume request.")
VariableType = strawberry.enum(commands.VariableType, description="How a variable's value is read.")
JobStatus = strawberry.enum(commands.JobStatus, description="Status of a CI/CD job.")
TriggerSource = strawberry.enum(commands.TriggerSource, description="What started a CI/CD job.")
