"""`sessionEvents` subscription documents, recognised once per text for the websocket fast path.

A document qualifies when, parsed within the token limit and validated with every rule the schema applies
(the specification's and `schema.limits`), the operation it names is a subscription of the single root field
`sessionEvents` with no directive. Anything else (and any document with errors) is not recognised, and the
caller leaves it to Strawberry, which reports the errors as usual."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values

from core.settings import Settings
from schema.limits import validation_rules

EVENTS_FIELD = "sessionEvents"
MAX_KNOWN_DOCUMENTS = 256


@dataclass(frozen=True, slots=True)
class EventsDocument:
    """A recognised document: what executing it on an event needs, and where its arguments are."""

    document: DocumentNode  # the operation and the fragments, ready to execute on each event
    field: FieldNode
    field_definition: GraphQLField
    operation: OperationDefinitionNode


@dataclass(frozen=True, slots=True)
class EventsArguments:
    variables: dict[str, Any]  # coerced
    all_users: bool
    after: str | None


class EventsDocuments:
    """Recognised texts by (query, operation name), the least recently used forgotten past `max_entries`."""

    def __init__(self, schema: GraphQLSchema, settings: Settings, *, max_entries: int = MAX_KNOWN_DOCUMENTS) -> None:
        self._schema = schema
        self._rules = (*specified_rules, *validation_rules(settings))
        self._max_tokens = settings.max_query_tokens
        self._max_entries = max_entries
        self._known: OrderedDict[tuple[str, str | None], EventsDocument | None] = OrderedDict()

    @property
    def schema(self) -> GraphQLSchema:
        return self._schema

    def find(self, query: str, operation_name: str | None) -> EventsDocument | None:
        key = (query, operation_name)
        if key in self._known:
            self._known.move_to_end(key)
            return self._known[key]
        found = self._recognise(query, operation_name)
        self._known[key] = found
        if len(self._known) > self._max_entries:
            self._known.popitem(last=False)
        return found

    def arguments(self, found: EventsDocument, variables: dict[str, Any] | None) -> EventsArguments | None:
        """The coerced variables and the field's arguments; None when the variables do not fit the document."""
        coerced = get_variable_values(self._schema, found.operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            return None
        values = get_argument_values(found.field_definition, found.field, coerced)
        after = values.get("after")
        return EventsArguments(
            variables=coerced.coerced,
            all_users=bool(values.get("allUsers")),
            after=None if after is None else str(after),
        )

    def _recognise(self, query: str, operation_name: str | None) -> EventsDocument | None:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError:
            return None
        if validate(self._schema, document, self._rules):
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
            return None
        selections = operation.selection_set.selections
        if len(selections) != 1 or not isinstance(selections[0], FieldNode):
            return None
        field = selections[0]
        subscription_type = self._schema.subscription_type
        if field.name.value != EVENTS_FIELD or field.directives or subscription_type is None:
            return None
        fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
        return EventsDocument(
            document=DocumentNode(definitions=(operation, *fragments)),
            field=field,
            field_definition=subscription_type.fields[EVENTS_FIELD],
            operation=operation,
        )
