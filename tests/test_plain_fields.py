"""`PlainFieldExecutor` answers exactly what Strawberry's own executor answers: data, errors, paths, order."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.plain_fields import PlainFieldExecutor


@strawberry.enum
class Colour(enum.Enum):
    RED = "RED"
    BLUE = "BLUE"


CHECKS: list[object] = []


class SeesGuarded(BasePermission):
    message = "Not allowed."

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        CHECKS.append(getattr(info, "context", None))  # it needs the resolve info: never a plain field
        return True


@strawberry.type
class Owner:
    name: str


@strawberry.type
class Item:
    id: strawberry.ID
    label: str | None
    required: str
    colour: Colour
    seen_at: datetime
    count: int
    owner: Owner

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.required.upper() * times

    guarded: str = strawberry.field(default="secret", permission_classes=[SeesGuarded])


def item(index: int, **changes: Any) -> Item:
    values: dict[str, Any] = {
        "id": strawberry.ID(f"i{index}"),
        "label": None if index % 2 else f"label {index}",
        "required": f"r{index}",
        "colour": Colour.RED if index % 2 else Colour.BLUE,
        "seen_at": datetime(2026, 1, 1, index, tzinfo=UTC),
        "count": index,
        "owner": Owner(name=f"o{index}"),
    }
    return Item(**{**values, **changes})


@dataclass
class Broken:
    """An item whose non-null field is missing and whose colour is not a `Colour`."""

    id: str = "b"
    label: str | None = "fine"
    required: str | None = None
    colour: object = "GREEN"
    seen_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    count: int = 1
    owner: Owner | None = None


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [item(index) for index in range(5)]

    @strawberry.field
    def broken(self) -> list[Item | None]:
        return [item(0), Broken(), item(1)]  # type: ignore[list-item]

    @strawberry.field
    async def later(self) -> Item:
        return item(7)


def schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    return (
        strawberry.Schema(query=Query, execution_context_class=StrawberryGraphQLCoreExecutionContext),
        strawberry.Schema(query=Query, execution_context_class=PlainFieldExecutor),
    )


DOCUMENTS = [
    "{ items { id label required colour seenAt count } }",
    # objects, resolvers with arguments and __typename mixed with plain fields, in a chosen order
    "{ items { count owner { name } shout(times: 2) __typename id colour label } }",
    # aliases, a field selected twice, fragments
    "{ items { a: id b: id ...F label } } fragment F on Item { colour c: count }",
    # directives
    "query($on: Boolean!) { items { id label @include(if: $on) count @skip(if: $on) } }",
    # a null in a non-null field and an unserialisable enum value: errors, paths and null bubbling
    "{ broken { id label required colour } }",
    "{ broken { id colour } }",
    "{ later { id seenAt owner { name } } }",
    "{ items { id guarded } }",
]


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_the_same_answer_as_strawberrys_executor(document: str) -> None:
    reference, plain = schemas()
    for variables in ({"on": True}, {"on": False}):
        expected = await reference.execute(document, variable_values=variables)
        answered = await plain.execute(document, variable_values=variables)
        assert answered.data == expected.data
        assert list(_keys(answered.data)) == list(_keys(expected.data))  # the selection's order
        assert [(e.message, e.path) for e in answered.errors or []] == [
            (e.message, e.path) for e in expected.errors or []
        ]


async def test_a_field_with_a_permission_class_is_checked_once_per_value() -> None:
    _, plain = schemas()
    CHECKS.clear()
    answered = await plain.execute("{ items { guarded } }", context_value="ctx")
    assert answered.errors is None
    assert answered.data == {"items": [{"guarded": "secret"}] * 5}
    assert CHECKS == ["ctx"] * 5


async def test_broken_values_are_reported_not_answered() -> None:
    _, plain = schemas()
    answered = await plain.execute("{ broken { id required } }")
    assert answered.data == {"broken": [{"id": "i0", "required": "r0"}, None, {"id": "i1", "required": "r1"}]}
    assert [e.path for e in answered.errors or []] == [["broken", 1, "required"]]


def _keys(value: Any) -> list[str]:
    """Every key of a JSON value, depth first, in order."""
    keys: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            keys.append(key)
            keys.extend(_keys(inner))
    elif isinstance(value, list):
        for inner in value:
            keys.extend(_keys(inner))
    return keys
