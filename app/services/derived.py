"""The derived state values: one definition, used by every interface.

- current_state: code of the latest transition (a column, moved only by transitions).
- last_successful_state: highest code with a `completed` entry (a column kept by transitions).
- failed_state: code of the latest failure since the build was last reopened (a column).
- resume_from_state: computed here from the above, the open resume request and the project's states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

OPEN_RESUME_STATUSES = ("pending", "triggered", "running")
DEFAULT_FINAL_CODE = 100  # a project without state codes: 0 = pending, 100 = complete


class BuildStates(Protocol):
    """The columns of a build the rules read (a `db.models.Build` or a row of them)."""

    status: str
    current_state: int
    last_successful_state: int | None
    failed_state: int | None


class OpenRequest(Protocol):
    resume_from_state: int


def resume_from_state(
    build: BuildStates, open_request: OpenRequest | None, project_codes: Sequence[int]
) -> int:
    if open_request is not None:
        return open_request.resume_from_state
    if build.failed_state is not None:
        return build.failed_state
    if build.last_successful_state is not None:
        later = [c for c in project_codes if c > build.last_successful_state]
        if later:
            return min(later)
    return build.current_state


def next_last_successful(current: int | None, code: int) -> int:
    return code if current is None else max(current, code)
