"""What every operation does on its way out, as ONE Strawberry extension.

Strawberry sets up every extension's hooks for every operation (~5-10 us each, whether the hook
does anything or not); four extensions that each only looked at the result did it four times.
`OperationPolicy` runs the same steps in the order their exits ran before:

1. metrics: the operation counted and timed (schema/extensions_metrics.py), also when an
   extension refused it (limits, rate);
2. database errors keep a code (UNAVAILABLE → HTTP 503 + Retry-After, or VALIDATION) instead of
   being masked (schema/limits.py `database_errors`);
3. masking: domain errors keep their code, unexpected ones become "Unexpected error." with
   INTERNAL_SERVER_ERROR (schema/errors.py `ErrorPolicy`, Strawberry's MaskErrors underneath,
   streamed results included);
4. masked errors name the request id of the logged traceback (schema/limits.py
   `request_id_on_errors`).

When the operation raises (an extension refusing it), only step 1 runs and the error goes on,
as before.

The steps are the plain functions `operation_ended` and `operation_raised`: the extension calls
them, and so does `BuildstateSchema.execute` (schema/schema.py), which runs queries and mutations
over HTTP without Strawberry's extension runner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from schema.errors import ErrorPolicy
from schema.extensions_metrics import observe_operation
from schema.limits import database_errors, request_id_on_errors


def operation_raised(ctx: Any, started: float) -> None:
    """An operation refused by raising (limits, rate, parse): step 1 only."""
    observe_operation(ctx, time.perf_counter() - started, True)


def operation_ended(ctx: Any, started: float, mask: Callable[[], object]) -> None:
    """Steps 1-4, in this order, once `ctx.result` is set. `mask` masks `ctx.result`'s errors."""
    observe_operation(ctx, time.perf_counter() - started, False)
    database_errors(ctx)
    mask()
    request_id_on_errors(ctx)


class OperationPolicy(ErrorPolicy):
    def on_operation(self) -> Iterator[None]:
        masking = super().on_operation()  # MaskErrors' own hook, driven around ours
        next(masking)
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            operation_raised(self.execution_context, started)
            masking.close()
            raise
        # Masks unless a streamed result was masked frame by frame.
        operation_ended(self.execution_context, started, lambda: next(masking, None))
