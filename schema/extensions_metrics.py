"""GraphQL operations in the Prometheus metrics: by name and type, with errors and duration."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.metrics import observe_graphql


class MetricsExtension(SchemaExtension):
    """Registered as a class: each operation gets its own instance."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        raised = False
        try:
            yield
        except BaseException:
            # An extension refused the operation (limits, rate): it still counts, as an error.
            raised = True
            raise
        finally:
            self._observe(time.perf_counter() - started, raised)

    def _observe(self, seconds: float, raised: bool) -> None:
        ctx = self.execution_context
        try:
            op_type = ctx.operation_type.value
        except Exception:  # unparsable document: no operation to name
            op_type = "unknown"
        errors = len(ctx.pre_execution_errors or [])
        if ctx.result is not None and getattr(ctx.result, "errors", None):
            errors += len(ctx.result.errors)
        observe_graphql(ctx.operation_name, op_type, seconds, max(errors, 1) if raised else errors)
