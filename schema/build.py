"""Builds the Strawberry schema (imported by the server and by tests, never by `schema/__init__`)."""

from __future__ import annotations

from functools import partial

import strawberry
from strawberry.schema.config import StrawberryConfig

from core.settings import Settings
from schema.error_log import SessionsSchema
from schema.errors import CodeErrors, MaskUnexpectedErrors, ReportingParserCache
from schema.limits import LimitedValidationCache, limit_extensions
from schema.operation_metrics import OperationMetrics
from schema.plain_fields import PlainFieldExecutor
from schema.root import ENTITY_LOADERS, Mutation, Query, Subscription


def build_schema(settings: Settings) -> strawberry.Schema:
    production = settings.environment == "production"
    shaping = [OperationMetrics, MaskUnexpectedErrors, CodeErrors]
    caches = [ReportingParserCache, partial(LimitedValidationCache, max_directives=settings.max_query_directives)]
    return SessionsSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[*shaping, *caches, *limit_extensions(settings)],
        # "Did you mean ...?" hints map the schema for anyone; introspection is off there too (limits.py).
        config=StrawberryConfig(disable_field_suggestions=production),
        # A Federation 2 subgraph. Strawberry's default is 2.11; Hive's composer reads up to 2.9, and @key
        # (all this service uses) needs only 2.0, so 2.9 composes everywhere (README: Federation and gateways).
        federation_version="2.9",
        entity_loaders=ENTITY_LOADERS,
        execution_context_class=PlainFieldExecutor,
    )
