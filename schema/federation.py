"""The Federation 2 subgraph schema: `_service { sdl }` for composition, `_entities` for the gateway's lookups.

Strawberry resolves each representation through a `resolve_reference` method on the type, one at a time, and
reports a malformed representation (not an object, no `__typename`, a type that is not an entity) as an
unexpected error. Here the types stay plain data: each entity type is registered with a loader from
`resolvers.entities`; `_entities` checks every representation first (BAD_USER_INPUT when one is malformed), then
calls each type's loader once with all of that type's keys. Loaders apply the caller's scope: whatever the
caller may not see is null, the same answer as for a key that does not exist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import strawberry
from graphql import GraphQLUnionType
from strawberry.federation.schema import FederationAny
from strawberry.types import Info
from strawberry.types.base import get_object_definition

from core.errors import BadUserInput

ENTITY_UNION = "_Entity"
KEY_FIELD = "id"

EntityLoader = Callable[[Info[Any, Any], Sequence[str]], Awaitable[Sequence[object | None]]]


class SubgraphSchema(strawberry.federation.Schema):
    def __init__(self, *, entity_loaders: Mapping[type, EntityLoader], **options: Any) -> None:
        self._entity_loaders = {
            get_object_definition(entity, strict=True).name: loader for entity, loader in entity_loaders.items()
        }
        super().__init__(**options)
        union = self._schema.type_map.get(ENTITY_UNION)
        entities = {member.name for member in union.types} if isinstance(union, GraphQLUnionType) else set()
        if entities != set(self._entity_loaders):
            loaders = sorted(self._entity_loaders)
            raise ValueError(f"Entity types {sorted(entities)} need one loader each, got loaders for {loaders}")

    # Strawberry builds the `_entities` field from this method (its return annotation is set to the entity union).
    async def entities_resolver(  # type: ignore[override]
        self, info: Info, representations: list[FederationAny]
    ) -> list[object | None]:
        wanted = [self._reference(representation) for representation in representations]
        keys_by_type: dict[str, dict[str, None]] = {}
        for typename, key in wanted:
            keys_by_type.setdefault(typename, {})[key] = None  # unique keys, first-seen order
        found: dict[tuple[str, str], object | None] = {}
        for typename, keys in keys_by_type.items():
            loaded = await self._entity_loaders[typename](info, list(keys))
            found.update(zip(((typename, key) for key in keys), loaded, strict=True))
        return [found[reference] for reference in wanted]

    def _reference(self, representation: object) -> tuple[str, str]:
        """(type name, key) of one representation, e.g. `{"__typename": "Session", "id": "..."}`."""
        if not isinstance(representation, dict):
            raise BadUserInput("Each representation must be an object with __typename and id.")
        typename, key = representation.get("__typename"), representation.get(KEY_FIELD)
        if not isinstance(typename, str) or typename not in self._entity_loaders:
            raise BadUserInput(f"__typename must name an entity type: {', '.join(sorted(self._entity_loaders))}.")
        if not isinstance(key, str):
            raise BadUserInput(f"A {typename} representation needs its key, id, as a string.")
        return typename, key
