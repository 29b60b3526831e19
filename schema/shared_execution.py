"""Subscription results executed once and shared: one event, one document, one JSON text for every subscriber.

Thousands of consoles watching one account run the same document with the same variables. Each event is
executed (graphql-core, the selection on the event) and serialised once per (result key, event, variant); every
other subscriber with that key gets the same text. The variant is what differs per viewer: `isCurrent`, true
only on the viewer's own session."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from graphql import DocumentNode, ExecutionResult, GraphQLSchema, execute

from observability.metrics import EVENT_EXECUTIONS
from schema.errors import INTERNAL_ERROR_CODE, INTERNAL_ERROR_MESSAGE, error_code, is_unexpected

log = logging.getLogger(__name__)

MAX_CACHED_RESULTS = 1024
MASKED_ERROR: dict[str, Any] = {"message": INTERNAL_ERROR_MESSAGE, "extensions": {"code": INTERNAL_ERROR_CODE}}


@dataclass(frozen=True, slots=True, eq=False)
class SharedOperation:
    """What it takes to execute an operation on a root value; equal `key`s give equal results."""

    key: str
    schema: GraphQLSchema
    document: DocumentNode
    variables: dict[str, Any] | None


class SharedResults:
    """Serialised results by (operation key, root key); the oldest are forgotten past `max_entries`."""

    def __init__(self, max_entries: int = MAX_CACHED_RESULTS) -> None:
        self._max_entries = max_entries
        self._entries: dict[tuple[str, Hashable], str] = {}

    def payload(self, operation: SharedOperation, root_key: Hashable, make_root: Callable[[], object]) -> str:
        """The JSON text of `{"data": ...}` (and `errors`, if any) for `operation` on the root `make_root` builds;
        `make_root` is called only when no subscriber with this key has asked for `root_key` yet."""
        key = (operation.key, root_key)
        cached = self._entries.get(key)
        if cached is not None:
            return cached
        text = json.dumps(_run(operation, make_root()), separators=(",", ":"), ensure_ascii=False)
        EVENT_EXECUTIONS.inc()
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = text
        return text


def _run(operation: SharedOperation, root: object) -> dict[str, Any]:
    result = execute(operation.schema, operation.document, root_value=root, variable_values=operation.variables)
    if isawaitable(result):  # every field of an event resolves synchronously; an awaitable is a broken promise
        close = getattr(result, "close", None)
        if close is not None:
            close()
        log.error("an event's selection did not resolve synchronously")
        return {"data": None, "errors": [MASKED_ERROR]}
    return _formatted(result)


def _formatted(result: ExecutionResult) -> dict[str, Any]:
    formatted: dict[str, Any] = {"data": result.data}
    if result.errors:
        errors = []
        for error in result.errors:
            if is_unexpected(error):
                log.error("an event's selection failed", exc_info=error.original_error)
                errors.append(MASKED_ERROR)
            else:
                shown: dict[str, Any] = dict(error.formatted)
                shown["extensions"] = {**(error.extensions or {}), "code": error_code(error)}
                errors.append(shown)
        formatted["errors"] = errors
    return formatted
