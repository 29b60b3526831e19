"""The service's Prometheus metrics, one registry per process."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

WEBSOCKET_CONNECTIONS = Gauge(
    "active_sessions_websocket_connections",
    "Authenticated websocket connections open on this instance.",
    registry=REGISTRY,
)
SUBSCRIPTIONS = Gauge(
    "active_sessions_subscriptions", "sessionEvents subscriptions running on this instance.", registry=REGISTRY
)
EVENTS_PUBLISHED = Counter(
    "active_sessions_events_published",
    "Session events committed and published by this instance.",
    ["type"],
    registry=REGISTRY,
)


class Tally(Collector):
    """A counter for the hottest path (one step per event per subscriber): a plain integer, read at scrape time,
    instead of a prometheus-client Counter's lock per step."""

    __slots__ = ("_documentation", "_name", "value")

    def __init__(self, name: str, documentation: str) -> None:
        self._name = name
        self._documentation = documentation
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def collect(self) -> Iterable[CounterMetricFamily]:
        yield CounterMetricFamily(self._name, self._documentation, value=self.value)


EVENTS_DELIVERED = Tally("active_sessions_events_delivered", "Session events handed to subscribers of this instance.")
REGISTRY.register(EVENTS_DELIVERED)
EVENT_EXECUTIONS = Counter(
    "active_sessions_event_executions",
    "Subscription documents executed on an event over websockets: one per document, variables and isCurrent, "
    "whose result every matching subscriber shares.",
    registry=REGISTRY,
)
EVENTS_DROPPED = Counter(
    "active_sessions_events_dropped",
    "Session events not delivered: a subscriber fell too far behind (it is disconnected and resumes with after).",
    ["reason"],
    registry=REGISTRY,
)
SESSIONS_CREATED = Counter(
    "active_sessions_sessions_created", "Sessions started (logins) on this instance.", registry=REGISTRY
)
SESSIONS_ENDED = Counter(
    "active_sessions_sessions_ended", "Sessions ended by this instance, by reason.", ["reason"], registry=REGISTRY
)
REVOCATION_CLOSE_SECONDS = Histogram(
    "active_sessions_revocation_close_seconds",
    "From a session's end being committed (on any instance) to its websocket closing here with 4401.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "active_sessions_request_seconds",
    "GraphQL queries and mutations, by operation type.",
    ["operation_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)


class BusReconnects(Collector):
    """Reads the bus backend's own reconnect counter at scrape time."""

    def __init__(self, read: Callable[[], int]) -> None:
        self._read = read

    def collect(self) -> Iterable[CounterMetricFamily]:
        yield CounterMetricFamily(
            "active_sessions_bus_reconnects", "Reconnects of the bus pub/sub connection.", value=self._read()
        )


_bus_collector: BusReconnects | None = None


def watch_bus_reconnects(read: Callable[[], int]) -> None:
    global _bus_collector  # noqa: PLW0603 - one bus per process
    if _bus_collector is not None:
        REGISTRY.unregister(_bus_collector)
    _bus_collector = BusReconnects(read)
    REGISTRY.register(_bus_collector)
