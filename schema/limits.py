"""Document limits from settings, as extension factories (a fresh extension per request).

The depth and alias rules are built once here rather than by `QueryDepthLimiter(...)` and
`MaxAliasesLimiter(...)` per request: each of those builds a new rule class, which is part of
`ValidationCache`'s key, so the cache would never hit. Production adds `DisableIntrospection`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from graphql import ASTValidationRule
from strawberry.extensions import AddValidationRules, DisableIntrospection, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from core.settings import Settings


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    rules: list[type[ASTValidationRule]] = [
        depth_rule(settings.max_query_depth, None, None),
        aliases_rule(settings.max_query_aliases),
    ]
    factories: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=settings.max_query_tokens),
        partial(AddValidationRules, rules),
    ]
    if settings.environment == "production":
        factories.append(DisableIntrospection)
    return factories
