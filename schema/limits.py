"""Document limits from settings, as extension factories (a fresh extension per request).

The depth and alias rules are built once here rather than by `QueryDepthLimiter(...)` and
`MaxAliasesLimiter(...)` per request: each of those builds a new rule class, which is part of
`ValidationCache`'s key, so the cache would never hit. Directives are counted before validation runs
(`LimitedValidationCache`): a document over `MAX_QUERY_DIRECTIVES` gets one error and is not validated at all, so
a flood of (unknown) directives costs neither validation time nor one error each ("directive overloading").
Production adds `DisableIntrospection`, and refuses the
federation `_service { sdl }` too: it prints the whole schema, as introspection would (compose from the committed
schema.graphql instead)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from graphql import (
    ASTValidationRule,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    ValidationContext,
    ValidationRule,
    Visitor,
    visit,
)
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from core.settings import Settings

SUBGRAPH_SDL_FIELD = "_service"


class NoSubgraphSdl(ValidationRule):
    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value == SUBGRAPH_SDL_FIELD:
            self.report_error(GraphQLError("The subgraph SDL is not served here: see schema.graphql.", node))


def too_many_directives(limit: int) -> GraphQLError:
    return GraphQLError(f"The document has more than {limit} directives, the most one document may have.")


class _DirectiveCounter(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def enter_directive(self, *_args: Any) -> None:
        self.count += 1


def count_directives(document: DocumentNode) -> int:
    counter = _DirectiveCounter()
    visit(document, counter)
    return counter.count


def directives_rule(limit: int) -> type[ASTValidationRule]:
    """The same limit as a validation rule, for code that validates documents itself."""

    class MaxDirectives(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_directive(self, node: DirectiveNode, *_args: Any) -> None:
            self.count += 1
            if self.count == limit + 1:
                self.report_error(too_many_directives(limit))

    return MaxDirectives


class LimitedValidationCache(ValidationCache):
    """Strawberry's validation cache, after the directive count: over the limit, one error and no validation."""

    def __init__(self, *, max_directives: int) -> None:
        super().__init__()
        self.max_directives = max_directives

    def on_validate(self) -> Iterator[None]:
        document = self.execution_context.graphql_document
        if document is not None and count_directives(document) > self.max_directives:
            self.execution_context.pre_execution_errors = [too_many_directives(self.max_directives)]
            yield
            return
        yield from super().on_validate()


def validation_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The rules every document is held to beyond the specification's (see `limit_extensions`)."""
    production = settings.environment == "production"
    return [
        depth_rule(settings.max_query_depth, None, None),
        aliases_rule(settings.max_query_aliases),
        directives_rule(settings.max_query_directives),
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
