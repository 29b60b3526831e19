"""Error shaping: expected errors keep their message and `extensions.code`; anything else is masked."""

from __future__ import annotations

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from core.errors import ServiceError

INTERNAL_ERROR_CODE = "INTERNAL_SERVER_ERROR"
INTERNAL_ERROR_MESSAGE = "Internal server error."


def is_unexpected(error: GraphQLError) -> bool:
    """Syntax and validation errors (no original error) and our coded errors stay as they are."""
    original = error.original_error
    return original is not None and not isinstance(original, ServiceError | GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=INTERNAL_ERROR_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL_ERROR_CODE}
        return masked
