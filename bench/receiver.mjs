// Websocket receiver for the benchmark suite: holds many connections and timestamps every message.
//
// Driven by bench/receivers.py over stdin/stdout, one JSON object per line each way. Timestamps are
// process.hrtime.bigint(), which is CLOCK_MONOTONIC on Linux: the same clock as Python's
// time.monotonic_ns() in the harness, so latencies can be computed across processes.
//
// A message is timestamped and stored as it arrives; it is parsed only when the harness collects,
// so parsing never delays the receipt of the next message.
//
// Requests: {"id": n, "op": ...}
//   open     {url, kind: "graphql"|"raw", tokens?: [..], count?: n, group, query?, variables?, concurrency}
//   mark     {}                 start counting messages from zero
//   wait     {count, timeout_ms} resolve once `count` messages arrived since the last mark
//   collect  {}                 every stored message, parsed: {key: [[group, t_ns, bytes, stamp], ...]}
//                               (stamp: the event's occurredAt, or the raw server's monotonic stamp)
//   closes   {}                 every close seen since the last call: [[conn, group, t_ns, code], ...]
//   wait_closes {count, timeout_ms}
//   close    {group?}           close (all, or one group's) connections and wait for them to go
//   stats    {}
//   exit     {}

import readline from "node:readline";
import WebSocket from "ws";

const connections = []; // {ws, group, open}
let stored = []; // [t_ns (bigint), group, Buffer]
let sinceMark = 0;
let waiter = null; // {count, resolve}
let closes = [];
let closeWaiter = null;

function now() {
  return process.hrtime.bigint();
}

function reply(id, body) {
  process.stdout.write(JSON.stringify({ id, ...body }) + "\n");
}

function onMessage(conn, data) {
  const t = now();
  stored.push([t, conn.group, data]);
  sinceMark += 1;
  if (waiter !== null && sinceMark >= waiter.count) {
    const w = waiter;
    waiter = null;
    w.resolve(true);
  }
}

function onClose(index, conn, code) {
  const t = now();
  conn.open = false;
  closes.push([index, conn.group, Number(t), code]);
  if (closeWaiter !== null && closes.length >= closeWaiter.count) {
    const w = closeWaiter;
    closeWaiter = null;
    w.resolve(true);
  }
}

function openOne(request, token, handshakeTimeoutMs) {
  return new Promise((resolve) => {
    const kind = request.kind;
    const ws = new WebSocket(request.url, kind === "graphql" ? ["graphql-transport-ws"] : [], {
      perMessageDeflate: false,
      handshakeTimeout: handshakeTimeoutMs,
    });
    const conn = { ws, group: request.group, open: false };
    let settled = false;
    const timer = setTimeout(() => finish(false, "timeout"), handshakeTimeoutMs);
    function finish(ok, error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!ok) {
        ws.removeAllListeners("message");
        try {
          ws.terminate();
        } catch {
          // already gone
        }
        resolve({ ok: false, error });
        return;
      }
      const index = connections.length;
      connections.push(conn);
      conn.open = true;
      ws.on("close", (code) => onClose(index, conn, code));
      resolve({ ok: true });
    }
    ws.on("error", (err) => finish(false, String(err && err.message ? err.message : err)));
    ws.on("close", (code) => finish(false, `closed ${code}`));
    ws.on("open", () => {
      if (kind !== "graphql") {
        ws.on("message", (data) => onMessage(conn, data));
        finish(true);
        return;
      }
      ws.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${token}` } }));
    });
    if (kind === "graphql") {
      let acknowledged = false;
      ws.on("message", (data) => {
        if (acknowledged) {
          if (data.length < 64) {
            const text = data.toString();
            if (text.includes('"ping"')) {
              ws.send(JSON.stringify({ type: "pong" }));
              return;
            }
            if (text.includes('"pong"')) return;
          }
          onMessage(conn, data);
          return;
        }
        let message;
        try {
          message = JSON.parse(data.toString());
        } catch {
          finish(false, "bad handshake message");
          return;
        }
        if (message.type !== "connection_ack") {
          finish(false, `expected connection_ack, got ${message.type}`);
          return;
        }
        acknowledged = true;
        if (request.query) {
          ws.send(
            JSON.stringify({
              id: "1",
              type: "subscribe",
              payload: { query: request.query, variables: request.variables || {} },
            }),
          );
        }
        finish(true);
      });
    }
  });
}

async function open(request) {
  const total = request.kind === "graphql" ? request.tokens.length : request.count;
  const concurrency = Math.max(1, request.concurrency || 50);
  const timeoutMs = request.timeout_ms || 30000;
  let next = 0;
  let opened = 0;
  const errors = [];
  async function worker() {
    while (next < total) {
      const i = next;
      next += 1;
      const token = request.kind === "graphql" ? request.tokens[i] : null;
      const result = await openOne(request, token, timeoutMs);
      if (result.ok) opened += 1;
      else if (errors.length < 20) errors.push(result.error);
      else errors.push(null);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { opened, failed: total - opened, errors: errors.filter((e) => e !== null).slice(0, 20) };
}

/** The key a message is filed under, and the instant the event it carries happened (when it says). */
function keyOf(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return ["unparsable", null];
  }
  if (message.type === "next") {
    const payload = message.payload || {};
    if (payload.errors) return [`error:${JSON.stringify(payload.errors).slice(0, 200)}`, null];
    const data = payload.data || {};
    if (data.sessionEvents) {
      const event = data.sessionEvents;
      return [`${event.type}:${event.session ? event.session.id : "?"}`, event.occurredAt || null];
    }
    if (payload.tag) return [`raw:${payload.tag}`, payload.stamp === undefined ? null : payload.stamp];
    return ["next:?", null];
  }
  if (message.type === "error") return [`error:${JSON.stringify(message.payload).slice(0, 200)}`, null];
  return [`${message.type}`, null];
}

function collect() {
  const events = {};
  for (const [t, group, data] of stored) {
    const [key, stamp] = keyOf(data.toString());
    (events[key] ||= []).push([group, Number(t), data.length, stamp]);
  }
  stored = [];
  return { events };
}

function waitFor(count, timeoutMs) {
  if (sinceMark >= count) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiter = null;
      resolve(false);
    }, timeoutMs);
    waiter = {
      count,
      resolve: (value) => {
        clearTimeout(timer);
        resolve(value);
      },
    };
  });
}

function waitForCloses(count, timeoutMs) {
  if (closes.length >= count) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      closeWaiter = null;
      resolve(false);
    }, timeoutMs);
    closeWaiter = {
      count,
      resolve: (value) => {
        clearTimeout(timer);
        resolve(value);
      },
    };
  });
}

async function closeConnections(group) {
  const targets = connections.filter((c) => c.open && (group === undefined || group === null || c.group === group));
  await Promise.all(
    targets.map(
      (c) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => {
            c.ws.terminate();
            resolve();
          }, 5000);
          c.ws.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
          c.ws.close(1000);
        }),
    ),
  );
  return { closed: targets.length };
}

async function handle(request) {
  switch (request.op) {
    case "open":
      return open(request);
    case "mark":
      sinceMark = 0;
      return {};
    case "wait":
      return { complete: await waitFor(request.count, request.timeout_ms), received: sinceMark };
    case "collect":
      return collect();
    case "closes": {
      const seen = closes;
      closes = [];
      return { closes: seen };
    }
    case "wait_closes":
      return { complete: await waitForCloses(request.count, request.timeout_ms), seen: closes.length };
    case "close":
      return closeConnections(request.group);
    case "stats":
      return { open: connections.filter((c) => c.open).length, stored: stored.length };
    case "exit":
      await closeConnections(null);
      setImmediate(() => process.exit(0));
      return {};
    default:
      return { error: `unknown op ${request.op}` };
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    reply(null, { error: `bad request: ${err}` });
    return;
  }
  handle(request).then(
    (body) => reply(request.id, body),
    (err) => reply(request.id, { error: String(err && err.stack ? err.stack : err) }),
  );
});
lines.on("close", () => process.exit(0));
