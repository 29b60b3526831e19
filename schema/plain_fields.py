"""Plain leaf fields without graphql-core's per-field machinery.

A plain field has no resolver of its own (Strawberry reads the attribute), takes no arguments and returns a
scalar or an enum. graphql-core still builds a resolve info, a path entry, two awaitable checks and a
completion chain for each one, which is most of the cost of a page of sessions (20 nodes x ~15 fields).
`PlainFieldExecutor` resolves such fields by reading the attribute and serialising it with the field's own
type, exactly what graphql-core would have produced. Anything else (resolvers, arguments, lists, objects,
middleware), and any plain field whose value is missing or does not serialise, takes graphql-core's path,
which then raises the same errors as before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField


class PlainLeaf(NamedTuple):
    """How to answer one plain leaf field of a selection: read, then serialise."""

    resolve: Callable[[Any, None], Any]
    serialize: Callable[[Any], Any]
    non_null: bool


# Per selection: (response name, field group, PlainLeaf or None for graphql-core's path).
SelectionPlan = tuple[tuple[str, FieldDetailsList, PlainLeaf | None], ...]


def plain_leaf(parent_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> PlainLeaf | None:
    node = field_details_list[0].node
    field_def = parent_type.fields.get(node.name.value)
    if field_def is None or field_def.args or node.arguments:
        return None
    resolve = field_def.resolve
    definition = field_def.extensions.get("strawberry-definition")
    # Strawberry's attribute reader: no resolver, no field extensions (permission classes are one).
    if resolve is None or not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    field_type, non_null = field_def.type, False
    if isinstance(field_type, GraphQLNonNull):
        field_type, non_null = field_type.of_type, True
    if not isinstance(field_type, GraphQLScalarType | GraphQLEnumType):
        return None
    return PlainLeaf(resolve=resolve, serialize=field_type.serialize, non_null=non_null)


class PlainFieldExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, with plain leaf fields answered directly (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Keyed by the identity of graphql-core's memoised field sets, kept alive beside their plan.
        self._plans: dict[int, tuple[GroupedFieldSet, SelectionPlan | None]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = self._plan(parent_type, grouped_field_set)
        if plan is None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        rest: dict[str, FieldDetailsList] = {}
        is_awaitable = self.is_awaitable
        for response_name, field_details_list, leaf in plan:
            if leaf is not None:
                try:
                    value = leaf.resolve(source_value, None)
                    if value is None:
                        if not leaf.non_null:
                            results[response_name] = None
                            continue
                    elif not is_awaitable(value):
                        serialized = leaf.serialize(value)
                        if serialized is not None and serialized is not Undefined:
                            results[response_name] = serialized
                            continue
                except Exception:  # noqa: S110 - graphql-core's path below reports it
                    pass
            rest[response_name] = field_details_list
        if not rest:
            return results
        # The other fields, graphql-core's way; answers keep the selection's order.
        others = super().execute_fields(parent_type, source_value, path, rest, position_context)
        if self.is_awaitable(others):

            async def merged() -> dict[str, Any]:
                return _in_order(plan, results, await others)

            return merged()
        return _in_order(plan, results, others)  # type: ignore[arg-type]

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> SelectionPlan | None:
        cached = self._plans.get(id(grouped_field_set))
        if cached is not None:
            return cached[1]
        plan: SelectionPlan | None = None
        middleware = self.middleware_manager
        if not (middleware and middleware.middlewares):
            entries = tuple(
                (name, details, plain_leaf(parent_type, details)) for name, details in grouped_field_set.items()
            )
            if any(leaf is not None for _, _, leaf in entries):
                plan = entries
        self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        return plan


def _in_order(plan: SelectionPlan, plain: dict[str, Any], others: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for response_name, _, _ in plan:
        if response_name in plain:
            answer[response_name] = plain[response_name]
        elif response_name in others:
            answer[response_name] = others[response_name]
    return answer
