"""Document limits from settings, as extension factories (a fresh extension per request).

The depth and alias rules are built once here rather than by `QueryDepthLimiter(...)` and
`MaxAliasesLimiter(...)` per request: each of those builds a new rule class, which is part of
`ValidationCache`'s key, so the cache would never hit. Production adds `DisableIntrospection`, and refuses the
federation `_service { sdl }` too: it prints the whole schema, as introspection would (compose from the committed
schema.graphql instead)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from graphql import ASTValidationRule, FieldNode, GraphQLError, NoSchemaIntrospectionCustomRule, ValidationRule
from strawberry.extensions import AddValidationRules, DisableIntrospection, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from core.settings import Settings

SUBGRAPH_SDL_FIELD = "_service"


class NoSubgraphSdl(ValidationRule):
    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value == SUBGRAPH_SDL_FIELD:
            self.report_error(GraphQLError("The subgraph SDL is not served here: see schema.graphql.", node))


def validation_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The rules every document is held to beyond the specification's (see `limit_extensions`)."""
    production = settings.environment == "production"
    return [
        depth_rule(settings.max_query_depth, None, None),
        aliases_rule(settings.max_query_aliases),
        *([NoSubgraphSdl, NoSchemaIntrospectionCustomRule] if production else []),
    ]


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    production = settings.environment == "production"
    rules = [rule for rule in validation_rules(settings) if rule is not NoSchemaIntrospectionCustomRule]
    factories: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=settings.max_query_tokens),
        partial(AddValidationRules, rules),
    ]
    if production:
        factories.append(DisableIntrospection)
    return factories
