"""Builds the Strawberry schema (imported by the server and by tests, never by `schema/__init__`)."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig

from schema.errors import MaskUnexpectedErrors
from schema.root import Mutation, Query, Subscription


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[MaskUnexpectedErrors, ParserCache, ValidationCache],
        config=StrawberryConfig(disable_field_suggestions=False),
    )
