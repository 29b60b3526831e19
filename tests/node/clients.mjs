// Real JavaScript GraphQL clients, driven by the Python tests:
//
//   node clients.mjs <protocol> <url> <token> [<query> [<variables JSON>]]
//
// protocol: graphql-ws (graphql-transport-ws), legacy (subscriptions-transport-ws), sse (graphql-sse),
// multipart (fetch + meros). Each subscribes once and reports what happens as JSON lines on stdout:
//   {"event": "connecting", "retry": false}   a (re)connection attempt (websocket clients, graphql-sse)
//   {"event": "next", "payload": {...}}        one execution result
//   {"event": "error", "code": 4401, ...}      the subscription failed (close code, or message)
//   {"event": "complete"}                      the server completed the subscription
//   {"event": "closed", "code": 4401}          the socket closed (websocket clients)
// The process keeps running (so that a retry would show up) until the test stops it.
import { createClient as createWsClient } from "graphql-ws";
import { createClient as createSseClient } from "graphql-sse";
import { meros } from "meros/browser";
import subscriptionsTransportWs from "subscriptions-transport-ws";
import WebSocket from "ws";

const DEFAULT_QUERY = "subscription { sessionEvents { id type session { id status } } }";
const [protocol, url, token, query = DEFAULT_QUERY, variablesJson = "{}"] = process.argv.slice(2);
const variables = JSON.parse(variablesJson);
const authorization = `Bearer ${token}`;
const RETRY_WAIT_MS = 100; // short, so that a retry the client should not make shows up at once

function emit(event, fields = {}) {
  process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);
}

const sink = {
  next: (payload) => emit("next", { payload }),
  error: (error) =>
    emit("error", {
      code: typeof error?.code === "number" ? error.code : null,
      reason: error?.reason ?? null,
      message: String(error?.message ?? (Array.isArray(error) ? JSON.stringify(error) : error)),
    }),
  complete: () => emit("complete"),
};

function graphqlWs() {
  const client = createWsClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: authorization },
    retryAttempts: 5,
    retryWait: () => new Promise((resolve) => setTimeout(resolve, RETRY_WAIT_MS)),
    on: {
      connecting: (isRetry) => emit("connecting", { retry: isRetry }),
      connected: () => emit("connected"),
      closed: (event) => emit("closed", { code: event?.code ?? null, reason: event?.reason ?? null }),
    },
  });
  client.subscribe({ query, variables }, sink);
}

// Reports every socket's close code (the legacy client does not hand it over).
class ReportingWebSocket extends WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("close", (event) => emit("closed", { code: event.code, reason: event.reason }));
  }
}

function legacy() {
  const { SubscriptionClient } = subscriptionsTransportWs;
  // The legacy protocol has no notion of a fatal close: reconnecting is the client's choice. With a revoked
  // token every attempt would be refused, so a console configures it not to reconnect on its own.
  const client = new SubscriptionClient(
    url,
    { connectionParams: { Authorization: authorization }, reconnect: false, lazy: false },
    ReportingWebSocket,
  );
  emit("connecting", { retry: false });
  client.onConnected(() => emit("connected"));
  client.onReconnecting(() => emit("connecting", { retry: true }));
  client.onDisconnected(() => emit("disconnected"));
  client.request({ query, variables }).subscribe(sink);
}

function sse() {
  const client = createSseClient({
    url,
    headers: { Authorization: authorization },
    retryAttempts: 5,
    retry: () => new Promise((resolve) => setTimeout(resolve, RETRY_WAIT_MS)),
    on: {
      connecting: (reconnecting) => emit("connecting", { retry: reconnecting }),
      connected: () => emit("connected"),
    },
  });
  client.subscribe({ query, variables }, sink);
}

async function multipart() {
  emit("connecting", { retry: false });
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: 'multipart/mixed;subscriptionSpec="1.0", application/json',
      authorization,
    },
    body: JSON.stringify({ query, variables }),
  });
  emit("connected", { status: response.status, contentType: response.headers.get("content-type") });
  const parts = await meros(response);
  if (!(Symbol.asyncIterator in Object(parts))) {
    sink.next(await response.json());
    return sink.complete();
  }
  for await (const part of parts) {
    if (!part.json) continue;
    if (part.body.payload) sink.next(part.body.payload);
    else if (part.body.errors) sink.error(part.body.errors); // a transport-level error
    else emit("heartbeat");
  }
  sink.complete();
}

const protocols = { "graphql-ws": graphqlWs, legacy, sse, multipart };
if (!protocols[protocol]) {
  console.error(`unknown protocol ${protocol}: one of ${Object.keys(protocols).join(", ")}`);
  process.exit(2);
}
setInterval(() => {}, 60_000); // stay up after the subscription ends, so that a late retry would still show
await protocols[protocol]();
