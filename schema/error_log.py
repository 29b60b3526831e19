"""Error logging that never writes the document or the variables (passwords are variables of `login`).

Strawberry's default logs `str(error)`, which quotes the document around the error, with the stack trace.
Here each error is one line: its code and where it happened (the path, or the line:column in the document),
plus the message for our own coded errors. graphql-core's messages for refused documents and variables
quote the values they refuse (`... found: {'email': ..., 'password': ...}`), so those messages are left to
the response. Unexpected errors are logged with the exception and its stack (frames only, no locals)."""

from __future__ import annotations

import logging
import traceback

from graphql import GraphQLError
from strawberry.types import ExecutionContext

from core.errors import ServiceError
from schema.errors import INTERNAL_ERROR_CODE, error_code
from schema.federation import SubgraphSchema

log = logging.getLogger("active_sessions.graphql")


def _where(error: GraphQLError) -> str:
    if error.path:
        return ".".join(str(part) for part in error.path)
    if error.locations:
        return ",".join(f"{location.line}:{location.column}" for location in error.locations)
    return "-"


def log_error(error: GraphQLError) -> None:
    code, where, original = error_code(error), _where(error), error.original_error
    if code == INTERNAL_ERROR_CODE:
        frames = "".join(traceback.format_tb(original.__traceback__)) if original is not None else ""
        kind = type(original).__name__ if original is not None else "GraphQLError"
        detail = str(original) if original is not None else error.message
        log.error("GraphQL error %s at %s: %s: %s\n%s", code, where, kind, detail, frames.rstrip())
    elif isinstance(original, ServiceError):
        log.info("GraphQL error %s at %s: %s", code, where, original.message)
    else:
        log.info("GraphQL request refused: %s at %s", code, where)


class SessionsSchema(SubgraphSchema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            log_error(error)
