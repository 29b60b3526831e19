"""Error shaping: expected errors keep their message and `extensions.code`; anything else is masked.

Every error leaves with a code: our own (`ServiceError`), `GRAPHQL_PARSE_FAILED` for syntax errors (and
documents over the token limit), `GRAPHQL_VALIDATION_FAILED` for documents the schema refuses (depth,
aliases and introspection limits included), `BAD_USER_INPUT` for variables that do not fit, and
`INTERNAL_SERVER_ERROR` for anything unexpected (masked, no stack trace)."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors, ParserCache, SchemaExtension
from strawberry.types.execution import StreamExecutionResult

from core.errors import ErrorCode, ServiceError

INTERNAL_ERROR_CODE = "INTERNAL_SERVER_ERROR"
INTERNAL_ERROR_MESSAGE = "Internal server error."
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


def is_unexpected(error: GraphQLError) -> bool:
    """Syntax and validation errors (no original error) and our coded errors stay as they are."""
    original = error.original_error
    return original is not None and not isinstance(original, ServiceError | GraphQLError)


def error_code(error: GraphQLError) -> str:
    """The code an error carries (or will carry once `CodeErrors` has seen it)."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    if isinstance(error, GraphQLSyntaxError) or isinstance(error.original_error, GraphQLSyntaxError):
        return PARSE_FAILED
    if is_unexpected(error) or error.path is not None:  # e.g. a resolver broke the schema's promises
        return INTERNAL_ERROR_CODE
    return ErrorCode.BAD_USER_INPUT.value  # variables that do not fit, an unknown operation name


def _with_code(error: GraphQLError, code: str) -> None:
    if not isinstance((error.extensions or {}).get("code"), str):
        error.extensions = {**(error.extensions or {}), "code": code}


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=INTERNAL_ERROR_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL_ERROR_CODE}
        return masked


class CodeErrors(SchemaExtension):
    """Gives every error that has none a code; validation errors are recognised by when they appear."""

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            _with_code(error, VALIDATION_FAILED)

    def on_operation(self) -> Iterator[None]:
        yield
        self._code(getattr(self.execution_context.result, "errors", None))

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._code(getattr(result, "errors", None))
        yield None

    @staticmethod
    def _code(errors: list[GraphQLError] | None) -> None:
        for error in errors or ():
            _with_code(error, error_code(error))


class ReportingParserCache(ParserCache):
    """ParserCache whose syntax errors reach the client as errors.

    ParserCache parses inside its hook, where Strawberry does not catch errors on the streaming
    (websocket) path: a syntax error there killed the operation with a logged stack trace (holding the
    document) and no error message. On a syntax error this hook leaves the document unset, and Strawberry's
    own parse, which reports errors properly, runs (uncached) instead."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        except GraphQLError:
            context.graphql_document = None
        yield
