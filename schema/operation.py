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
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from schema.errors import ErrorPolicy
from schema.extensions_metrics import observe_operation
from schema.limits import database_errors, request_id_on_errors


class OperationPolicy(ErrorPolicy):
    def on_operation(self) -> Iterator[None]:
        masking = super().on_operation()  # MaskErrors' own hook, driven around ours
        next(masking)
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            observe_operation(self.execution_context, time.perf_counter() - started, True)
            masking.close()
            raise
        ctx = self.execution_context
        observe_operation(ctx, time.perf_counter() - started, False)
        database_errors(ctx)
        next(masking, None)  # masks (unless a streamed result was masked frame by frame)
        request_id_on_errors(ctx)
