"""Composition root and command line: settings -> database -> bus hub -> services -> FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from bus.hub import EventHub
from bus.transport import Transport
from core.database import Database, create_engine, migrate_to_latest
from core.errors import ServiceError
from core.secret_box import SecretKeyMissing
from core.settings import Settings
from observability.counting_publisher import CountingPublisher
from observability.logs import configure_logging
from observability.metrics import watch_bus_reconnects
from schema.build import build_schema
from schema.close_codes import SERVER_RESTARTING
from schema.context import Services
from schema.shared_execution import SharedResults
from services.access import AccessService
from services.account_security import AccountSecurity
from services.accounts import create_user, set_password_login
from services.bulk_logout import BulkLogout
from services.clients import ClientAuthenticator, create_client, list_clients, revoke_client
from services.ended_sessions import EndedSessionFeed
from services.event_log import EventLog
from services.event_stream import EventStream
from services.geolocation import open_locator
from services.limit_store import open_limit_store
from services.password_change import PasswordChange
from services.rate_limit import LoginThrottle
from services.retention import Retention
from services.session_history import SessionHistory
from services.sessions import SessionService
from services.sliding_window import SlidingWindow
from services.sweeper import Sweeper
from services.webhook_delivery import WebhookWorker
from services.webhooks import WebhookService
from web.body_limit import BodySizeLimit
from web.connections import ConnectionRegistry
from web.drain import Drain, DrainingServer
from web.graphql_router import SUBSCRIPTION_PROTOCOLS, SessionsGraphQLRouter, build_context
from web.graphql_sockets import GraphQLSockets
from web.health import router as health_router
from web.lean_websocket import LeanWebSocketProtocol
from web.metrics import metrics_router
from web.oauth import OAuthEndpoints
from web.oauth import router as oauth_router
from web.request_id import RequestId
from web.security_headers import SecurityHeaders
from web.trusted_sessions import router as trusted_sessions_router

STATIC_DIR = Path(__file__).resolve().parent / "static"
GRAPHQL_PATH = "/graphql"


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything a running instance holds; built once per process (or per test)."""

    settings: Settings
    database: Database
    hub: EventHub
    services: Services
    registry: ConnectionRegistry
    sweeper: Sweeper


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings, *, run_sweeper: bool = True, run_webhooks: bool | None = None
) -> AsyncIterator[Runtime]:
    """`run_webhooks` (default: as `run_sweeper`) starts this instance's webhook delivery worker."""
    await migrate_to_latest(settings.database_url)
    database = Database(create_engine(settings.database_url))
    event_log = EventLog(database)
    hub = EventHub(
        Transport(settings.broadcast_url),
        event_log,
        channel_prefix=settings.channel_prefix,
        reconcile_interval=settings.reconcile_interval_seconds,
    )
    await hub.start()
    watch_bus_reconnects(lambda: hub.reconnects)
    publisher = CountingPublisher(hub)
    limit_store = open_limit_store(settings, database)
    # one per instance: logins and password changes share it
    throttle = LoginThrottle.from_settings(settings, limit_store)
    sessions = SessionService(database, publisher, settings)
    services = Services(
        access=AccessService(database, publisher, settings, throttle, locator=open_locator(settings.geolocation)),
        sessions=sessions,
        events=EventStream(hub, event_log, max_pending=settings.subscriber_queue_size),
        settings=settings,
        shared_results=SharedResults(),
        webhooks=WebhookService(database, settings),
        security=AccountSecurity(
            history=SessionHistory(database, sessions, settings),
            passwords=PasswordChange(database, publisher, throttle),
            bulk=BulkLogout(database, publisher, settings),
        ),
    )
    registry = ConnectionRegistry(hub)
    sweeper = Sweeper(database, publisher, settings)
    background = (
        [
            asyncio.create_task(sweeper.run_forever(), name="session-sweeper"),
            asyncio.create_task(Retention(database, settings).run_forever(), name="retention"),
        ]
        if run_sweeper
        else []
    )
    if run_sweeper if run_webhooks is None else run_webhooks:
        background.append(asyncio.create_task(WebhookWorker(database, settings).run_forever(), name="webhook-delivery"))
    try:
        yield Runtime(settings, database, hub, services, registry, sweeper)
    finally:
        await registry.close_all(*SERVER_RESTARTING)
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.stop()
        await limit_store.close()
        await database.dispose()


def tune_garbage_collector() -> None:
    """Fewer and cheaper collections while serving: objects from start-up are frozen out of later collections,
    and generation 0 runs every 50,000 allocations. Full collections over thousands of open subscriptions
    otherwise stall every socket (BENCHMARKS.md: fan-out p99 at 1,000 panels from ~1.0 s to ~0.65 s). Closed
    websockets, whose objects form cycles that reach the oldest generation, get collections of their own
    (web/socket_garbage.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    drain = Drain()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        drain.bind()
        async with open_runtime(settings) as runtime:
            tune_garbage_collector()
            yield {
                "drain": drain,
                "services": runtime.services,
                "registry": runtime.registry,
                "database": runtime.database,
                "hub": runtime.hub,
                "oauth": OAuthEndpoints(
                    access=runtime.services.access,
                    clients=ClientAuthenticator(runtime.database),
                    feed=EndedSessionFeed(runtime.database),
                    limiter=SlidingWindow(limit=settings.introspection_requests_per_client, window=1.0),
                    drain=drain,
                    public_url=settings.public_url,
                ),
            }

    app = FastAPI(title="Active Sessions", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.drain = drain
    graphql = SessionsGraphQLRouter(
        build_schema(settings),
        settings=settings,
        context_getter=build_context,
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=False,
        allowed_origins=settings.allowed_origins,
        subscription_protocols=SUBSCRIPTION_PROTOCOLS,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders, production=settings.environment == "production")
    app.add_middleware(RequestId)
    app.add_middleware(GraphQLSockets, router=graphql, path=GRAPHQL_PATH)  # outermost of ours: sockets stop here
    app.include_router(graphql, prefix=GRAPHQL_PATH)  # HTTP (and any websocket the middleware above lets by)
    app.include_router(health_router)
    app.include_router(metrics_router(settings))
    app.include_router(oauth_router)
    app.include_router(trusted_sessions_router)
    if STATIC_DIR.is_dir():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="console")
    return app


cli = typer.Typer(help="Active Sessions: a GraphQL service that owns login sessions and shows them live.")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the service (the default command)."""
    settings = load_settings()
    configure_logging(log_format=settings.effective_log_format, debug=settings.debug)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=False,  # X-Forwarded-For is honoured only from TRUSTED_PROXIES, by the service itself
        ws=LeanWebSocketProtocol,  # uvicorn's websockets-sansio, minus the handshake kept after it is done
        ws_per_message_deflate=False,
        ws_ping_interval=20,
        ws_max_size=settings.max_request_bytes,
        log_level="debug" if settings.debug else "info",
        log_config=None,  # uvicorn's loggers go through ours (JSON in production)
        timeout_graceful_shutdown=settings.drain_seconds,
    )
    DrainingServer(config, app.state.drain).run()


def load_settings() -> Settings:
    """Settings, or exit naming what to fix (without echoing the values, which may hold secrets)."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            typer.echo(f"error: {where}: {error['msg']}", err=True)
        raise typer.Exit(code=2) from None


@cli.command("create-user")
def create_user_command(
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="At least 8 characters.")],
    admin: Annotated[bool, typer.Option("--admin", help="Administrator of the account.")] = False,
    account: Annotated[str, typer.Option(help="Account (tenant) name; created when missing.")] = "default",
) -> None:
    """Create a user."""

    async def work(database: Database) -> None:
        user = await create_user(database, email=email, password=password, is_admin=admin, account_name=account)
        role = "administrator" if user.is_admin else "user"
        typer.echo(f"Created {role} {user.email} (id {user.id}) in account {account!r}.")

    run_with_database(work)


def run_with_database(
    work: Callable[[Database], Awaitable[None]], *, settings: Settings | None = None, with_code: bool = False
) -> None:
    """Run one CLI task on a migrated database. A ServiceError exits 1 with its message (after its code, with
    `with_code`); a missing webhook key exits 2."""
    settings = settings or load_settings()

    async def run() -> None:
        await migrate_to_latest(settings.database_url)
        database = Database(create_engine(settings.database_url))
        try:
            await work(database)
        finally:
            await database.dispose()

    try:
        asyncio.run(run())
    except ServiceError as exc:
        typer.echo(f"error: {exc.code.value}: {exc.message}" if with_code else f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc
    except SecretKeyMissing as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc


def _run_with_webhooks(settings: Settings, work: Callable[[WebhookService], Awaitable[None]]) -> None:
    """Run `work` with the webhook service on the migrated database; errors name their code."""
    run_with_database(lambda database: work(WebhookService(database, settings)), settings=settings, with_code=True)


@cli.command("add-webhook")
def add_webhook_command(
    url: str,
    account: Annotated[str, typer.Option(help="Account (tenant) whose session events the URL receives.")],
    events: Annotated[
        str | None, typer.Option(help="Comma-separated: session.created,session.updated,session.ended (default all).")
    ] = None,
) -> None:
    """Add a webhook endpoint; prints its id and its signing secret (shown this once)."""
    settings = load_settings()

    async def work(webhooks: WebhookService) -> None:
        created = await webhooks.create_in_account(account, url, events.split(",") if events is not None else None)
        typer.echo(f"id: {created.endpoint.id}")
        typer.echo(f"secret: {created.secret}")

    _run_with_webhooks(settings, work)


@cli.command("list-webhooks")
def list_webhooks_command() -> None:
    """List webhook endpoints: id, account id, state, event types and URL, one per line."""
    settings = load_settings()

    async def work(webhooks: WebhookService) -> None:
        for endpoint in await webhooks.list_all():
            if endpoint.enabled:
                since = endpoint.failing_since
                state = "enabled" if since is None else f"failing-since={since:%FT%TZ}"
            else:
                state = f"disabled ({endpoint.disabled_reason})"
            events = ",".join(endpoint.event_types)
            typer.echo(f"{endpoint.id}  account={endpoint.account_id}  {state}  events={events}  {endpoint.url}")

    _run_with_webhooks(settings, work)


@cli.command("remove-webhook")
def remove_webhook_command(endpoint_id: str) -> None:
    """Remove a webhook endpoint and its delivery history."""
    settings = load_settings()

    async def work(webhooks: WebhookService) -> None:
        await webhooks.remove(endpoint_id)
        typer.echo(f"Removed webhook {endpoint_id}.")

    _run_with_webhooks(settings, work)


@cli.command("enable-webhook")
def enable_webhook_command(endpoint_id: str) -> None:
    """Deliver again to a disabled webhook endpoint, from the event where it stopped."""
    settings = load_settings()

    async def work(webhooks: WebhookService) -> None:
        await webhooks.enable(endpoint_id)
        typer.echo(f"Enabled webhook {endpoint_id}.")

    _run_with_webhooks(settings, work)


@cli.command("set-account")
def set_account_command(
    account: str,
    mode: Annotated[str, typer.Option("--password-login", help="on or off.")],
) -> None:
    """Change an account's settings: --password-login off refuses password login for its users."""
    if mode not in ("on", "off"):
        typer.echo("error: BAD_USER_INPUT: --password-login must be on or off", err=True)
        raise typer.Exit(code=2)

    async def work(database: Database) -> None:
        await set_password_login(database, account_name=account, enabled=mode == "on")

    run_with_database(work, with_code=True)
    typer.echo(f"Password login {mode} for account {account!r}.")


@cli.command("create-client")
def create_client_command(
    name: str,
    account: Annotated[
        str | None, typer.Option(help="Account (tenant) whose tokens it may introspect; every account's without.")
    ] = None,
    permission: Annotated[
        list[str] | None, typer.Option("--permission", help="A permission such as sessions:write (repeatable).")
    ] = None,
) -> None:
    """Create a client (a resource server or gateway) and print its id and secret; the secret is shown once."""

    async def work(database: Database) -> None:
        created = await create_client(database, name=name, account_name=account, permissions=permission or [])
        typer.echo(f"client_id: {created.client.id}")
        typer.echo(f"client_secret: {created.secret}")

    run_with_database(work)


@cli.command("list-clients")
def list_clients_command() -> None:
    """List clients: id, name, account, permissions, created, revoked."""

    async def work(database: Database) -> None:
        for client in await list_clients(database):
            revoked = f"revoked {client.revoked_at.isoformat()}" if client.revoked_at else "active"
            permissions = ",".join(sorted(client.permissions)) or "-"
            typer.echo(
                f"{client.id}\t{client.name}\taccount={client.account_name or '*'}\tpermissions={permissions}"
                f"\tcreated {client.created_at.isoformat()}\t{revoked}"
            )

    run_with_database(work)


@cli.command("revoke-client")
def revoke_client_command(client_id: str) -> None:
    """Revoke a client: refused from its next request on."""

    async def work(database: Database) -> None:
        await revoke_client(database, client_id)
        typer.echo(f"Revoked {client_id}.")

    run_with_database(work)


@cli.command()
def demo() -> None:
    """Create a demo account with an administrator, a member, and sessions from several devices."""
    from services.demo import seed_demo

    settings = load_settings()
    for line in asyncio.run(seed_demo(settings)):
        typer.echo(line)


HELP_OPTIONS = frozenset({"--help", "-h", "--install-completion", "--show-completion"})


def main(argv: list[str] | None = None) -> None:
    """The `active-sessions` command (and `python server.py`): `serve` when no command is named, so
    `server.py --port 9000` serves; `--help` lists every command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0].startswith("-") and args[0] not in HELP_OPTIONS):
        args.insert(0, "serve")
    cli(args=args)


if __name__ == "__main__":
    main()
