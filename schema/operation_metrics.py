"""Times queries and mutations for the metrics, and names the operation in every log line it causes."""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from observability import log_context
from observability.metrics import REQUEST_SECONDS


class OperationMetrics(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        # The document is parsed by now, so an unnamed request still gets its operation's name.
        token = log_context.operation_name.set(self.execution_context.operation_name)
        try:
            yield
        finally:
            log_context.operation_name.reset(token)

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            operation_type: OperationType | None
            try:
                operation_type = self.execution_context.operation_type
            except RuntimeError:  # the document did not parse: nothing to classify
                operation_type = None
            if operation_type in (OperationType.QUERY, OperationType.MUTATION):
                REQUEST_SECONDS.labels(operation_type=operation_type.value).observe(time.perf_counter() - started)
