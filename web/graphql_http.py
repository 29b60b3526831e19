"""GraphQL over HTTP as its specification says: GET runs no operation, and the response media type follows `Accept`.

- A GET naming an operation (`query`, `operationName`, `variables` or `extensions` in the URL) is refused with
  405 and `Allow: POST` before any GraphQL runs, whatever it accepts (JSON, an SSE stream, a multipart stream).
  GET serves GraphiQL only (in development).
- `Accept` picks `application/graphql-response+json` or `application/json` (the highest `q`; a type named
  outright beats a wildcard; `*/*`, `application/*` and no `Accept` at all mean `application/json`). Streams
  (`text/event-stream`, `multipart/mixed`) are left to Strawberry's transports. An `Accept` that allows none of
  these is refused with 406.
- With `application/graphql-response+json`, a request error (a document that does not parse or validate,
  variables that cannot be coerced: no execution began) answers 400 with no `data` entry. `application/json`
  keeps 200 and `"data": null` for those, as legacy clients expect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from web.http_errors import coded_error_response

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
STREAM_TYPES = ("text/event-stream", "multipart/mixed")
# URL parameters of a GraphQL-over-HTTP request: a GET carrying any of them asks for an operation.
OPERATION_PARAMETERS = ("query", "operationName", "variables", "extensions")

GET_REFUSED = "GraphQL operations are served over POST only (a GET runs no operation)."
NOT_ACCEPTABLE = f"Responses are {GRAPHQL_RESPONSE_JSON} or {JSON}; the Accept header allows neither."


@dataclass(frozen=True, slots=True)
class MediaRange:
    media_type: str
    quality: float
    position: int


def media_ranges(accept: str) -> list[MediaRange]:
    ranges = []
    for position, part in enumerate(accept.split(",")):
        media_type, *parameters = (piece.strip() for piece in part.split(";"))
        if not media_type:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        ranges.append(MediaRange(media_type.lower(), quality, position))
    return ranges


def asks_for_a_stream(accept: str | None) -> bool:
    return accept is not None and any(
        item.media_type in STREAM_TYPES and item.quality > 0 for item in media_ranges(accept)
    )


def negotiate(accept: str | None) -> str | None:
    """The response media type for this `Accept` header, or None when it allows no type served here."""
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, int, int] | None = None
    chosen: str | None = None
    for item in media_ranges(accept):
        if item.quality <= 0:
            continue
        if item.media_type in (GRAPHQL_RESPONSE_JSON, JSON):
            candidate, rank = item.media_type, (item.quality, 1, -item.position)
        elif item.media_type in ("*/*", "application/*"):
            candidate, rank = JSON, (item.quality, 0, -item.position)
        else:
            continue
        if best is None or rank > best:
            best, chosen = rank, candidate
    return chosen


def asks_for_an_operation_over_get(request: Request) -> bool:
    return request.method == "GET" and any(name in request.query_params for name in OPERATION_PARAMETERS)


def is_request_error(result: ExecutionResult) -> bool:
    """No execution began: the document did not parse or validate, or the variables could not be coerced.

    Such errors carry no path; a field error always does (even one that nulled the whole `data`)."""
    return result.data is None and bool(result.errors) and all(error.path is None for error in result.errors or ())


def content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8" if media_type == GRAPHQL_RESPONSE_JSON else media_type


MEDIA_TYPE_STATE = "graphql_media_type"
REQUEST_ERROR_STATE = "graphql_request_error"


class ConformantGraphQLRouter(GraphQLRouter[Any, None]):
    """Strawberry's FastAPI router, answering GraphQL over HTTP as the module docstring says."""

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        if not isinstance(request, Request):  # websockets: not HTTP's business
            return await super().run(request=request, context=context, root_value=root_value)
        accept = request.headers.get("accept")
        if asks_for_an_operation_over_get(request):
            return coded_error_response(405, GET_REFUSED, media_type=negotiate(accept) or JSON, allow="POST")
        if request.method != "POST" or asks_for_a_stream(accept):  # GraphiQL; SSE and multipart streams
            return await super().run(request=request, context=context, root_value=root_value)
        media_type = negotiate(accept)
        if media_type is None:
            return coded_error_response(406, NOT_ACCEPTABLE, media_type=JSON)
        setattr(request.state, MEDIA_TYPE_STATE, media_type)
        try:
            response = await super().run(request=request, context=context, root_value=root_value)
        except HTTPException as exc:  # refusals before GraphQL runs: the GraphQL error shape, with a code
            return coded_error_response(exc.status_code, exc.reason, media_type=media_type)
        if isinstance(response, Response) and not isinstance(response, StreamingResponse):
            response.headers["content-type"] = content_type(media_type)
            if getattr(request.state, REQUEST_ERROR_STATE, False):
                response.status_code = 400
        return response

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        state = getattr(request, "state", None)
        if getattr(state, MEDIA_TYPE_STATE, None) == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            setattr(state, REQUEST_ERROR_STATE, True)
            response.pop("data", None)
        return response
