/*
 * Active Sessions console: the list of open login sessions, kept live over graphql-transport-ws.
 *
 * Where the token lives, and why:
 * - The bearer token is kept in sessionStorage and sent explicitly: as the `Authorization` header on
 *   every HTTP request and in the websocket's `connection_init` payload. The API accepts nothing else.
 * - Not a cookie: a cookie is an ambient credential the browser attaches by itself, which opens the
 *   door to cross-site request forgery and cross-site websocket hijacking (a websocket handshake is not
 *   subject to CORS). A token that only this page's script sends cannot be replayed by another site.
 * - Not localStorage: that persists on disk until removed and is shared by every tab of the origin.
 *   sessionStorage belongs to this tab and is dropped when the tab closes, so a forgotten tab or a
 *   shared computer keeps the token no longer than the tab.
 * - Script on the page could still read it, so the page runs no third-party or inline script (see
 *   the Content-Security-Policy in index.html) and puts every server-provided string into the DOM as
 *   text, never as HTML. The token is removed as soon as the server says the session has ended.
 */

const TOKEN_KEY = "active-sessions.token";
const PAGE_SIZE = 50; // the service's default page size; it accepts up to its max_page_size
const MAX_PAGES = 40;
const HTTP_TIMEOUT_MS = 15000;

// Websocket close codes (see schema/close_codes.py and the graphql-transport-ws protocol).
const CLOSE_SESSION_ENDED = 4401;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_SERVER_RESTARTING = 1012;
const CLOSE_TOO_SLOW = 1013;

const SESSION_FIELDS = `
  id status createdAt durationSeconds ipAddress isCurrent
  device { type label browser os rawUserAgent }
  user { id email }`;

const VIEWER_QUERY = `query Viewer { viewer { id email isAdmin } }`;

const ACTIVE_SESSIONS_QUERY = `
query ActiveSessions($allUsers: Boolean, $first: Int, $after: String) {
  activeSessions(allUsers: $allUsers, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { ${SESSION_FIELDS} }
  }
}`;

const LOGIN_MUTATION = `
mutation Login($input: LoginInput!) {
  login(input: $input) { token session { id } }
}`;

const LOGOUT_MUTATION = `mutation Logout { logout { session { id } } }`;

const LOGOUT_SESSION_MUTATION = `
mutation LogoutSession($id: ID!) { logoutSession(id: $id) { session { id status } } }`;

const LOGOUT_OTHERS_MUTATION = `mutation LogoutOtherSessions { logoutOtherSessions { sessions { id } } }`;

const SESSION_EVENTS_SUBSCRIPTION = `
subscription SessionEvents($allUsers: Boolean, $after: ID) {
  sessionEvents(allUsers: $allUsers, after: $after) {
    id type occurredAt
    session { ${SESSION_FIELDS} }
  }
}`;

const DEVICE_TYPE_TEXT = { DESKTOP: "Desktop", MOBILE: "Mobile", TABLET: "Tablet", BOT: "Bot", OTHER: "Other device" };
const STATUS_TEXT = { ACTIVE: "Active", IDLE: "Idle", ENDED: "Ended" };

/* ------------------------------------------------------------------------------------------------
 * Small helpers
 * --------------------------------------------------------------------------------------------- */

const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const DEVICE_ICON_PATHS = {
  DESKTOP: "M3 5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2h-5v2h3v2H7v-2h3v-2H5a2 2 0 0 1-2-2V5zm2 0v9h14V5H5z",
  MOBILE: "M7 3a2 2 0 0 1 2-2h6a2 2 0 0 1 2 2v18a2 2 0 0 1-2 2H9a2 2 0 0 1-2-2V3zm2 0v15h6V3H9zm3 16.2a1 1 0 1 0 0 2 1 1 0 0 0 0-2z",
  TABLET: "M4 4a2 2 0 0 1 2-2h12a2 2 0 0 1 2 2v16a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4zm2 0v14h12V4H6zm6 15a1 1 0 1 0 0 2 1 1 0 0 0 0-2z",
  BOT: "M11 2h2v3h4a3 3 0 0 1 3 3v9a3 3 0 0 1-3 3H7a3 3 0 0 1-3-3V8a3 3 0 0 1 3-3h4V2zM7 7a1 1 0 0 0-1 1v9a1 1 0 0 0 1 1h10a1 1 0 0 0 1-1V8a1 1 0 0 0-1-1H7zm2 3a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm6 0a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3z",
  OTHER: "M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20zm0 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16zm-1 11h2v2h-2v-2zm1-8a3.5 3.5 0 0 1 1.2 6.8c-.2.1-.2.2-.2.4V14h-2v-.8c0-1 .6-1.9 1.5-2.2A1.5 1.5 0 1 0 10.5 9.5h-2A3.5 3.5 0 0 1 12 7z",
};

function deviceIcon(type) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "20");
  svg.setAttribute("height", "20");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", DEVICE_ICON_PATHS[type] || DEVICE_ICON_PATHS.OTHER);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

/** "12s", "5m 12s", "2h 3m", "3d 4h". */
export function formatDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** ISO 8601 duration for <time datetime>. */
function isoDuration(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `P${d ? `${d}D` : ""}T${h}H${m}M${s % 60}S`;
}

const startedFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/* ------------------------------------------------------------------------------------------------
 * GraphQL over HTTP
 * --------------------------------------------------------------------------------------------- */

class GraphQLRequestError extends Error {
  constructor(message, { code = null, errors = null, network = false } = {}) {
    super(message);
    this.code = code;
    this.errors = errors;
    this.network = network;
  }
}

function errorFrom(errors) {
  const first = (errors && errors[0]) || {};
  return new GraphQLRequestError(first.message || "The request failed.", {
    code: (first.extensions && first.extensions.code) || null,
    errors,
  });
}

async function postGraphQL(query, variables, token) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), HTTP_TIMEOUT_MS);
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
      signal: controller.signal,
    });
  } catch (error) {
    throw new GraphQLRequestError("The service cannot be reached.", { network: true });
  } finally {
    clearTimeout(timer);
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLRequestError(`Unexpected response from the service (HTTP ${response.status}).`, {
      network: response.status >= 500,
    });
  }
  if (body.errors && body.errors.length) throw errorFrom(body.errors);
  if (!response.ok || !body.data) {
    throw new GraphQLRequestError(`Unexpected response from the service (HTTP ${response.status}).`);
  }
  return body.data;
}

/* ------------------------------------------------------------------------------------------------
 * A small graphql-transport-ws client (one connection; the app reconnects by making a new one)
 * https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md
 * --------------------------------------------------------------------------------------------- */

export class GraphQLWsClient {
  /**
   * @param {string} url
   * @param {object} connectionParams  sent as the connection_init payload
   * @param {{onClose?: (code: number, reason: string) => void, ackTimeoutMs?: number,
   *          keepAliveMs?: number, pongTimeoutMs?: number}} options
   */
  constructor(url, connectionParams, options = {}) {
    this.url = url;
    this.connectionParams = connectionParams;
    this.onClose = options.onClose || (() => {});
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10000;
    this.keepAliveMs = options.keepAliveMs ?? 15000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 10000;
    this.socket = null;
    this.acknowledged = false;
    this.closed = false;
    this.sinks = new Map();
    this.nextId = 1;
    this.timers = { ack: null, keepAlive: null, pong: null };
  }

  /** Resolves on connection_ack; rejects if the socket closes first. */
  open() {
    return new Promise((resolve, reject) => {
      this._resolveOpen = resolve;
      this._rejectOpen = reject;
      let socket;
      try {
        socket = new WebSocket(this.url, "graphql-transport-ws");
      } catch (error) {
        this._finish(1006, "Cannot open the websocket");
        return;
      }
      this.socket = socket;
      socket.addEventListener("open", () => {
        this._send({ type: "connection_init", payload: this.connectionParams });
        this.timers.ack = setTimeout(() => this._fail(4408, "Connection acknowledgement timeout"), this.ackTimeoutMs);
      });
      socket.addEventListener("message", (event) => this._onMessage(event.data));
      socket.addEventListener("close", (event) => this._finish(event.code, event.reason));
      socket.addEventListener("error", () => {
        /* a close event always follows */
      });
    });
  }

  /** Starts an operation; returns its id. sink: {next(payload), error(errors), complete()}. */
  subscribe(payload, sink) {
    const id = String(this.nextId++);
    this.sinks.set(id, sink);
    this._send({ id, type: "subscribe", payload });
    return id;
  }

  /** Stops an operation from our side; no further message of it reaches its sink. */
  unsubscribe(id) {
    if (this.sinks.delete(id)) this._send({ id, type: "complete" });
  }

  close(code = 1000, reason = "Normal closure") {
    this._fail(code, reason);
  }

  _send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  _onMessage(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      this._fail(4400, "Invalid message from the server");
      return;
    }
    switch (message.type) {
      case "connection_ack":
        clearTimeout(this.timers.ack);
        this.acknowledged = true;
        this._scheduleKeepAlive();
        if (this._resolveOpen) this._resolveOpen(message.payload);
        this._resolveOpen = this._rejectOpen = null;
        break;
      case "ping":
        this._send({ type: "pong" });
        break;
      case "pong":
        clearTimeout(this.timers.pong);
        this.timers.pong = null;
        break;
      case "next": {
        const sink = this.sinks.get(message.id);
        if (sink) sink.next(message.payload);
        break;
      }
      case "error": {
        const sink = this.sinks.get(message.id);
        this.sinks.delete(message.id);
        if (sink) sink.error(message.payload);
        break;
      }
      case "complete": {
        const sink = this.sinks.get(message.id);
        this.sinks.delete(message.id);
        if (sink) sink.complete();
        break;
      }
      default:
        this._fail(4400, `Unexpected message type ${message.type}`);
    }
  }

  /** Our own ping every keepAliveMs: a half-open connection is noticed within keepAliveMs + pongTimeoutMs. */
  _scheduleKeepAlive() {
    clearInterval(this.timers.keepAlive);
    this.timers.keepAlive = setInterval(() => {
      if (this.timers.pong) return;
      this._send({ type: "ping" });
      this.timers.pong = setTimeout(() => this._fail(4499, "No pong from the server"), this.pongTimeoutMs);
    }, this.keepAliveMs);
  }

  /** Close from our side and report at once (a dead connection may take long to emit `close`). */
  _fail(code, reason) {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) {
      try {
        this.socket.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason);
      } catch {
        /* already closing */
      }
    }
    this._finish(code, reason);
  }

  _finish(code, reason) {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timers.ack);
    clearInterval(this.timers.keepAlive);
    clearTimeout(this.timers.pong);
    this.sinks.clear();
    if (this._rejectOpen) this._rejectOpen(new Error(`websocket closed (${code})`));
    this._resolveOpen = this._rejectOpen = null;
    this.onClose(code, reason || "");
  }
}

/* ------------------------------------------------------------------------------------------------
 * State
 * --------------------------------------------------------------------------------------------- */

const state = {
  token: null,
  viewer: null, // { id, email, isAdmin }
  allUsers: false,
  sessions: new Map(), // id -> session
  loaded: false, // the table holds a snapshot (possibly stale while offline)
  generation: 0, // bumped on sign-in, sign-out and scope change: late callbacks of older ones are ignored

  // Live updates.
  client: null,
  subscriptionId: null,
  lastEventId: null, // id of the last event applied in the current scope: the resume cursor
  attachConfirmed: false, // an event proved the server-side listener is attached (or we resumed with `after`)
  syncing: false, // a list reload is in flight: events are buffered meanwhile
  syncSerial: 0,
  buffer: [],
  reconnectAttempt: 0,
  reconnectTimer: null,
  stableTimer: null,
  liveSince: null,

  skewMs: 0, // server clock minus browser clock, when they differ noticeably
  tickTimer: null,
};

function readToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage unavailable: the token lives in memory for this page only */
  }
}

/** GraphQL over HTTP with the session's token; any UNAUTHENTICATED answer signs the page out. */
async function api(query, variables = {}) {
  const generation = state.generation;
  const token = state.token;
  if (!token) throw new GraphQLRequestError("Not signed in.", { code: "UNAUTHENTICATED" });
  try {
    return await postGraphQL(query, variables, token);
  } catch (error) {
    if (error.code === "UNAUTHENTICATED" && generation === state.generation && state.token === token) {
      signedOut("This session is no longer valid: it was ended, or it expired.");
    }
    throw error;
  }
}

/* ------------------------------------------------------------------------------------------------
 * Views
 * --------------------------------------------------------------------------------------------- */

function announce(message) {
  const region = $("announcer");
  // Clearing first makes a repeated message be announced again.
  region.textContent = "";
  setTimeout(() => {
    region.textContent = message;
  }, 50);
}

function showLogin({ notice = null } = {}) {
  $("booting").hidden = true;
  $("sessions-view").hidden = true;
  $("account-bar").hidden = true;
  $("login-view").hidden = false;
  const noticeBox = $("logged-out-notice");
  noticeBox.hidden = notice === null;
  $("logged-out-reason").textContent = notice || "";
  $("login-error").hidden = true;
  $("login-password").value = "";
  setLoginBusy(false);
  document.title = "Sign in · Cloud Console";
  if (notice === null || !$("login-email").value) $("login-email").focus();
  else $("login-password").focus();
}

function showConsole() {
  $("booting").hidden = true;
  $("login-view").hidden = true;
  $("logged-out-notice").hidden = true;
  $("sessions-view").hidden = false;
  $("account-bar").hidden = false;
  const { email, isAdmin } = state.viewer;
  $("viewer-email").textContent = email;
  $("viewer-avatar").textContent = (email[0] || "?").toUpperCase();
  $("viewer-role").textContent = isAdmin ? "Administrator" : "Member";
  $("all-users-control").hidden = !isAdmin;
  $("all-users").checked = state.allUsers;
  document.title = "Active Sessions · Cloud Console";
  renderHead();
  renderTable();
}

function setLoginBusy(busy) {
  $("login-submit").disabled = busy;
  $("login-submit").textContent = busy ? "Signing in…" : "Sign in";
  $("login-form").setAttribute("aria-busy", busy ? "true" : "false");
}

function setConnection(kind, text) {
  const node = $("connection");
  node.dataset.state = kind;
  $("connection-text").textContent = text;
}

/* ------------------------------------------------------------------------------------------------
 * Table
 * --------------------------------------------------------------------------------------------- */

function columns() {
  const list = [];
  if (state.allUsers) list.push({ key: "user", title: "User" });
  list.push(
    { key: "device", title: "Device" },
    { key: "ip", title: "IP Address" },
    { key: "status", title: "Status" },
    { key: "time", title: "Time" },
    { key: "action", title: "Action" },
  );
  return list;
}

function renderHead() {
  const row = el("tr");
  for (const column of columns()) {
    row.append(el("th", { scope: "col", className: `col-${column.key}`, dataset: { col: column.key } }, column.title));
  }
  $("sessions-head").replaceChildren(row);
}

function compareSessions(a, b) {
  // Newest first, like the service; ties broken by id, also like the service.
  if (a.createdMs !== b.createdMs) return b.createdMs - a.createdMs;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function elapsedSeconds(session) {
  return (Date.now() + state.skewMs - session.createdMs) / 1000;
}

function logoutLabel(session) {
  if (session.isCurrent) return `Log out this device, ${session.device.label}`;
  if (state.viewer && session.user && session.user.id !== state.viewer.id) {
    return `Log out ${session.device.label} of ${session.user.email}`;
  }
  return `Log out ${session.device.label}`;
}

function deviceDetail(session) {
  const { device } = session;
  const parts = [DEVICE_TYPE_TEXT[device.type] || DEVICE_TYPE_TEXT.OTHER];
  const software = [device.browser, device.os].filter(Boolean).join(" on ");
  if (software && software !== device.label) parts.push(software);
  return parts.join(" · ");
}

// The raw User-Agent, on demand: every invisible, control or format character (a bidi override, a zero-width
// space, NUL) written out as \u{XXXX}, so what the client sent can be read as it is and cannot disguise itself.
const INVISIBLE_CHARS = /[\p{C}\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2800\u3164\uFE00-\uFE0F\uFFA0]|[^\S ]/gu;

function visibleEscapes(text) {
  return text.replace(INVISIBLE_CHARS, (char) => `\\u{${char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}}`);
}

function rawUserAgent(device) {
  if (!device.rawUserAgent) return null;
  return el(
    "details",
    { className: "raw-user-agent", dataset: { testid: "raw-user-agent" } },
    el("summary", {}, "User-Agent"),
    el("code", { className: "mono", dataset: { testid: "raw-user-agent-text" } }, visibleEscapes(device.rawUserAgent)),
  );
}

function buildRow(session) {
  const row = el("tr", {
    className: session.isCurrent ? "is-current" : null,
    dataset: { sessionId: session.id, testid: "session-row", current: String(session.isCurrent) },
  });

  const cells = [];
  if (state.allUsers) {
    const isMe = state.viewer && session.user.id === state.viewer.id;
    cells.push(
      el(
        "td",
        { className: "col-user", dataset: { testid: "session-user" } },
        el("span", { className: "user-email" }, session.user.email),
        isMe ? el("span", { className: "muted" }, " (you)") : null,
      ),
    );
  }

  const deviceCell = el(
    "td",
    { className: "col-device" },
    el(
      "div",
      { className: "device" },
      el("span", { className: `device-icon device-icon-${session.device.type.toLowerCase()}` }, deviceIcon(session.device.type)),
      el(
        "div",
        { className: "device-text" },
        el(
          "div",
          { className: "device-line" },
          el("span", { className: "device-label", dataset: { testid: "device-label" } }, session.device.label),
          session.isCurrent ? el("span", { className: "badge badge-current", dataset: { testid: "this-device" } }, "This device") : null,
        ),
        el("div", { className: "device-type", dataset: { testid: "device-type" } }, deviceDetail(session)),
        rawUserAgent(session.device),
      ),
    ),
  );
  cells.push(deviceCell);

  // Ids for the button's description: sessions with the same device label differ by address and age.
  const ipId = `ip-${session.id}`;
  const timeId = `time-${session.id}`;
  cells.push(
    el("td", { className: "col-ip", id: ipId, dataset: { testid: "session-ip" } }, el("span", { className: "mono" }, session.ipAddress)),
  );

  const status = session.status;
  cells.push(
    el(
      "td",
      { className: "col-status" },
      el(
        "span",
        { className: `status status-${status.toLowerCase()}`, dataset: { testid: "session-status" } },
        el("span", { className: "status-dot", "aria-hidden": "true" }),
        STATUS_TEXT[status] || status,
      ),
    ),
  );

  const seconds = elapsedSeconds(session);
  cells.push(
    el(
      "td",
      { className: "col-time" },
      el(
        "time",
        {
          id: timeId,
          datetime: isoDuration(seconds),
          title: `Signed in ${startedFormat.format(new Date(session.createdMs))}`,
          dataset: { testid: "session-time", createdMs: String(session.createdMs) },
        },
        formatDuration(seconds),
      ),
    ),
  );

  const button = el(
    "button",
    {
      type: "button",
      className: "btn btn-secondary btn-small",
      "aria-label": logoutLabel(session),
      "aria-describedby": `${ipId} ${timeId}`,
      dataset: { testid: "logout-session", sessionId: session.id },
    },
    "Log Out",
  );
  button.addEventListener("click", () => logoutSession(session.id, button));
  cells.push(el("td", { className: "col-action" }, button));

  // Column names for the stacked small-screen layout (console.css shows them as inline labels).
  columns().forEach((column, index) => {
    cells[index].dataset.label = column.title;
  });
  row.append(...cells);
  return row;
}

function renderCaption(count) {
  const scope = state.allUsers ? "Active sessions of all users of the account" : "Your active sessions";
  $("sessions-caption").textContent = `${scope} (${count})`;
}

/** Keyed re-render: rows are rebuilt from state, reused DOM nodes keep their place and focus. */
function renderTable() {
  const body = $("sessions-body");
  const sorted = [...state.sessions.values()].sort(compareSessions);
  const focused = document.activeElement;
  const focusedSessionId = focused && body.contains(focused) ? focused.dataset.sessionId : null;
  const wanted = new Set(sorted.map((session) => session.id));
  const existing = new Map([...body.rows].map((row) => [row.dataset.sessionId, row]));

  for (const [id, row] of existing) {
    if (!wanted.has(id)) row.remove();
  }
  sorted.forEach((session, index) => {
    let row = existing.get(session.id);
    const version = versionOf(session);
    if (!row || row.dataset.version !== version) {
      const fresh = buildRow(session);
      fresh.dataset.version = version;
      if (row) row.replaceWith(fresh);
      row = fresh;
    }
    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
  });

  if (focusedSessionId && !body.contains(focused)) {
    // The focused row went away (or was rebuilt): keep keyboard users somewhere sensible.
    const again = body.querySelector(`button[data-session-id="${CSS.escape(focusedSessionId)}"]`);
    if (again) again.focus();
    else $("sessions-caption").closest(".table-scroll").focus();
  }

  renderCaption(sorted.length);
  $("empty-state").hidden = !state.loaded || sorted.length > 0;
  updateLogoutOthers();
}

function versionOf(session) {
  return JSON.stringify([
    session.status,
    session.device,
    session.ipAddress,
    session.isCurrent,
    session.user && session.user.email,
    state.allUsers,
  ]);
}

function updateLogoutOthers() {
  const button = $("logout-others");
  const others = [...state.sessions.values()].filter(
    (session) => !session.isCurrent && state.viewer && session.user.id === state.viewer.id,
  ).length;
  // With the all-users view on, the list may not show the caller's other sessions: keep it usable.
  button.disabled = state.loaded && !state.allUsers && others === 0;
  button.title = button.disabled ? "No other sessions are signed in." : "";
}

function tick() {
  for (const time of document.querySelectorAll("#sessions-body time[data-created-ms]")) {
    const seconds = (Date.now() + state.skewMs - Number(time.dataset.createdMs)) / 1000;
    const text = formatDuration(seconds);
    if (time.textContent !== text) {
      time.textContent = text;
      time.setAttribute("datetime", isoDuration(seconds));
    }
  }
}

function startTicking() {
  stopTicking();
  // Each clock turns over once a second; checking four times a second keeps them within 250 ms of
  // their true value whatever the phase of the timer (only changed texts touch the DOM).
  state.tickTimer = setInterval(tick, 250);
  tick();
}

function stopTicking() {
  clearInterval(state.tickTimer);
  state.tickTimer = null;
}

function normalise(session) {
  return { ...session, createdMs: Date.parse(session.createdAt) };
}

/* ------------------------------------------------------------------------------------------------
 * Loading and live updates
 *
 * Correctness: the table is a snapshot plus every event after it, applied in order. Events are
 * idempotent per session (CREATED/UPDATED replace the row, ENDED removes it), so applying an event
 * the snapshot already reflects is harmless; what must never happen is missing one. Event ids grow
 * with every event of the account, so any event id seen before a snapshot is a valid cursor for it.
 *
 * - Resuming (reconnect after close 1012/1013/a network drop, with event N applied): subscribe with
 *   `after: N`. The service starts listening, replays every event after N, then goes live: no gap,
 *   no duplicate, no reload needed.
 * - New scope (the administrator's switch) with event N seen: subscribe with `after: N`, buffer,
 *   reload the list, apply the buffer. Exact for the same reason.
 * - First load (no event seen yet): subscribe without `after`, buffer, reload the list, apply the
 *   buffer. The client cannot observe when the service has attached the new subscription, so an
 *   event committed after the list was read but before that moment could be missed. The first
 *   event that arrives proves the subscription attached: it triggers one more reload (buffered the
 *   same way) and from then on the table is exact. (The service could close this window entirely
 *   by returning the latest event id with activeSessions.)
 * --------------------------------------------------------------------------------------------- */

async function loadAllSessions(allUsers) {
  const nodes = [];
  let after = null;
  let skewCandidate = -Infinity;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const data = await api(ACTIVE_SESSIONS_QUERY, { allUsers, first: PAGE_SIZE, after });
    const received = Date.now();
    const connection = data.activeSessions;
    for (const node of connection.nodes) {
      nodes.push(node);
      // durationSeconds is the server's "now" minus createdAt, truncated: a lower bound of its clock.
      skewCandidate = Math.max(skewCandidate, Date.parse(node.createdAt) + node.durationSeconds * 1000 + 500 - received);
    }
    if (!connection.pageInfo.hasNextPage || !connection.pageInfo.endCursor) break;
    after = connection.pageInfo.endCursor;
  }
  return { nodes, skewMs: Number.isFinite(skewCandidate) && Math.abs(skewCandidate) > 2000 ? skewCandidate : 0 };
}

/** Reload the list while buffering events; then apply the buffer. Retries until it succeeds. */
async function sync() {
  const generation = state.generation;
  const serial = ++state.syncSerial;
  const trusted = state.attachConfirmed;
  state.syncing = true;
  state.buffer = [];
  let delay = 1000;
  for (;;) {
    try {
      const { nodes, skewMs } = await loadAllSessions(state.allUsers);
      if (generation !== state.generation || serial !== state.syncSerial) return;
      state.skewMs = skewMs;
      state.sessions = new Map(nodes.map((node) => [node.id, normalise(node)]));
      state.loaded = true;
      for (const event of state.buffer) applyEvent(event, { quiet: true });
      state.buffer = [];
      state.syncing = false;
      renderTable();
      if (!trusted && state.attachConfirmed) {
        // An event arrived while the list was being read: reload once more from a trusted point.
        sync();
      }
      return;
    } catch (error) {
      if (generation !== state.generation || serial !== state.syncSerial) return;
      if (error.code === "UNAUTHENTICATED") return; // api() has signed the page out
      announce(`Could not load the sessions: ${error.message} Retrying…`);
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
      if (generation !== state.generation || serial !== state.syncSerial) return;
    }
  }
}

function applyEvent(event, { quiet = false } = {}) {
  const session = normalise(event.session);
  const known = state.sessions.get(session.id);
  if (event.type === "ENDED" || session.status === "ENDED") {
    if (!known) return;
    state.sessions.delete(session.id);
    if (!quiet) announce(`Session ended: ${session.device.label}${ownerSuffix(session)}.`);
  } else {
    state.sessions.set(session.id, session);
    if (!quiet && !known && event.type === "CREATED") {
      announce(`New session: ${session.device.label}${ownerSuffix(session)}.`);
    }
  }
}

function ownerSuffix(session) {
  return state.allUsers && state.viewer && session.user.id !== state.viewer.id ? ` (${session.user.email})` : "";
}

function onEvent(event) {
  state.lastEventId = event.id;
  const firstProof = !state.attachConfirmed;
  state.attachConfirmed = true;
  if (state.syncing) {
    state.buffer.push(event);
    return;
  }
  applyEvent(event);
  renderTable();
  if (firstProof) sync();
}

function wsUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
}

function connectLive() {
  const generation = state.generation;
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = null;
  const client = new GraphQLWsClient(
    wsUrl(),
    { Authorization: `Bearer ${state.token}` },
    { onClose: (code) => onSocketClosed(client, generation, code) },
  );
  state.client = client;
  state.subscriptionId = null;
  client.open().then(
    () => {
      if (generation !== state.generation || state.client !== client) {
        client.close(1000, "Superseded");
        return;
      }
      // Count the connection as healthy only once it has stayed up for a while.
      clearTimeout(state.stableTimer);
      state.stableTimer = setTimeout(() => {
        state.reconnectAttempt = 0;
      }, 5000);
      startSubscription(client);
    },
    () => {
      /* onSocketClosed decides what to do */
    },
  );
}

/**
 * Subscribe on an acknowledged connection. With a cursor, the service replays what we missed and no
 * reload is needed; `reload` asks for one anyway (a new scope: event ids are account-wide, so a cursor
 * from the old scope is still a valid starting point, and the replay makes the new snapshot exact).
 */
function startSubscription(client, { reload = false } = {}) {
  const generation = state.generation;
  const resume = state.lastEventId;
  state.attachConfirmed = resume !== null;
  const id = client.subscribe(
    { query: SESSION_EVENTS_SUBSCRIPTION, variables: { allUsers: state.allUsers, after: resume } },
    {
      next: (payload) => {
        if (generation !== state.generation || state.subscriptionId !== id) return;
        if (payload.errors && payload.errors.length) {
          onSubscriptionError(client, payload.errors);
          return;
        }
        if (payload.data && payload.data.sessionEvents) onEvent(payload.data.sessionEvents);
      },
      error: (errors) => {
        if (generation !== state.generation || state.subscriptionId !== id) return;
        onSubscriptionError(client, errors);
      },
      complete: () => {
        if (generation !== state.generation || state.subscriptionId !== id) return;
        // The service ends the stream when our own session ends (a 4401 close follows). Anything
        // else: check the session over HTTP, then resume from the last event.
        setTimeout(() => verifyThenReconnect(client), 1000);
      },
    },
  );
  state.subscriptionId = id;
  const wasReconnecting = state.liveSince === null && state.loaded;
  state.liveSince = Date.now();
  setConnection("live", "Live");
  if (wasReconnecting) announce("Live updates resumed.");
  if (resume === null || reload) sync();
}

function onSubscriptionError(client, errors) {
  const error = errorFrom(errors);
  if (error.code === "UNAUTHENTICATED") {
    signedOut("This session is no longer valid: it was ended, or it expired.");
    return;
  }
  if (error.code === "FORBIDDEN" && state.allUsers) {
    // No longer an administrator: fall back to the caller's own sessions.
    state.viewer = { ...state.viewer, isAdmin: false };
    state.allUsers = false;
    state.sessions = new Map();
    state.loaded = false;
    showConsole();
    announce("Only administrators may watch every user's sessions; showing your own.");
    startSubscription(client, { reload: true });
    return;
  }
  announce(`Live updates failed: ${error.message}`);
  state.lastEventId = null; // start the next connection afresh (reload, then live)
  client.close(4000, "Subscription failed");
}

async function verifyThenReconnect(client) {
  if (client !== state.client || client.closed) return;
  try {
    await api(VIEWER_QUERY);
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") return;
  }
  if (client === state.client && !client.closed) client.close(4000, "Stream ended");
}

function onSocketClosed(client, generation, code) {
  if (generation !== state.generation || client !== state.client) return;
  state.client = null;
  state.subscriptionId = null;
  clearTimeout(state.stableTimer);

  if (code === CLOSE_SESSION_ENDED) {
    signedOut("This session was ended from another device or by an administrator.");
    return;
  }

  const wasLive = state.liveSince !== null;
  state.liveSince = null;
  if (wasLive) announce("Live updates interrupted. Reconnecting…");

  if (!state.loaded && !state.syncing) {
    // The websocket is unavailable: show the list anyway, then keep trying to go live.
    state.attachConfirmed = false;
    sync();
  }

  if (code === CLOSE_FORBIDDEN) {
    // The service refused the token at connection_init: find out whether the session is gone.
    api(VIEWER_QUERY).then(
      () => scheduleReconnect(code),
      (error) => {
        if (error.code !== "UNAUTHENTICATED") scheduleReconnect(code);
      },
    );
    return;
  }
  scheduleReconnect(code);
}

function scheduleReconnect(code) {
  if (!state.token) return;
  const attempt = state.reconnectAttempt++;
  const base = code === CLOSE_TOO_SLOW ? 1000 : code === CLOSE_SERVER_RESTARTING ? 750 : 500;
  const delay = Math.min(base * 2 ** attempt, 15000) * (0.75 + Math.random() * 0.5);
  const seconds = Math.max(1, Math.round(delay / 1000));
  const why =
    code === CLOSE_SERVER_RESTARTING
      ? "Service restarting"
      : code === CLOSE_TOO_SLOW
        ? "Catching up"
        : "Connection lost";
  setConnection("reconnecting", `${why}, reconnecting in ${seconds}s…`);
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = setTimeout(() => {
    state.reconnectTimer = null;
    setConnection("connecting", "Reconnecting…");
    connectLive();
  }, delay);
}

function stopLive() {
  clearTimeout(state.reconnectTimer);
  clearTimeout(state.stableTimer);
  state.reconnectTimer = null;
  const client = state.client;
  state.client = null;
  state.subscriptionId = null;
  if (client) client.close(1000, "Signed out");
  state.liveSince = null;
  state.syncing = false;
  state.buffer = [];
  state.lastEventId = null;
  state.attachConfirmed = false;
  state.reconnectAttempt = 0;
}

/* ------------------------------------------------------------------------------------------------
 * Actions
 * --------------------------------------------------------------------------------------------- */

async function start() {
  const generation = ++state.generation;
  try {
    const data = await api(VIEWER_QUERY);
    if (generation !== state.generation) return;
    state.viewer = data.viewer;
  } catch (error) {
    if (generation !== state.generation) return;
    if (error.code === "UNAUTHENTICATED") return; // signed out by api()
    $("booting").textContent = `Could not reach the service: ${error.message} Retrying…`;
    setTimeout(() => {
      if (generation === state.generation) start();
    }, 3000);
    return;
  }
  state.allUsers = false;
  state.sessions = new Map();
  state.loaded = false;
  showConsole();
  startTicking();
  setConnection("connecting", "Connecting…");
  connectLive();
}

function signedOut(reason) {
  state.generation += 1;
  stopLive();
  stopTicking();
  storeToken(null);
  state.token = null;
  const email = state.viewer ? state.viewer.email : "";
  state.viewer = null;
  state.sessions = new Map();
  state.loaded = false;
  $("sessions-body").replaceChildren();
  if (email) $("login-email").value = email;
  showLogin({ notice: reason || "" });
}

async function onLoginSubmit(event) {
  event.preventDefault();
  const email = $("login-email").value.trim();
  const password = $("login-password").value;
  const deviceName = $("login-device").value.trim();
  const errorBox = $("login-error");
  if (!email || !password) {
    errorBox.textContent = "Enter your email and password.";
    errorBox.hidden = false;
    (email ? $("login-password") : $("login-email")).focus();
    return;
  }
  errorBox.hidden = true;
  setLoginBusy(true);
  try {
    const data = await postGraphQL(LOGIN_MUTATION, {
      input: { email, password, deviceName: deviceName || null },
    });
    state.token = data.login.token;
    storeToken(state.token);
    $("login-password").value = "";
    $("logged-out-notice").hidden = true;
    await start();
    $("main").focus();
  } catch (error) {
    errorBox.textContent =
      error.code === "UNAUTHENTICATED" ? "Invalid email or password." : `Sign-in failed: ${error.message}`;
    errorBox.hidden = false;
    $("login-password").focus();
  } finally {
    setLoginBusy(false);
  }
}

async function logoutSession(id, button) {
  const session = state.sessions.get(id);
  if (!session) return;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    if (session.isCurrent) {
      await api(LOGOUT_MUTATION);
      signedOut("");
      return;
    }
    await api(LOGOUT_SESSION_MUTATION, { id });
    if (state.sessions.delete(id)) {
      // The ENDED event will say the same; removing now makes the click feel immediate.
      renderTable();
    }
    announce(`Logged out ${session.device.label}${ownerSuffix(session)}.`);
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") return;
    announce(`Could not log out ${session.device.label}: ${error.message}`);
    if (button.isConnected) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
}

async function logoutOthers() {
  const button = $("logout-others");
  button.disabled = true;
  try {
    const data = await api(LOGOUT_OTHERS_MUTATION);
    const ended = data.logoutOtherSessions.sessions;
    for (const session of ended) state.sessions.delete(session.id);
    renderTable();
    announce(
      ended.length === 0
        ? "No other sessions were signed in."
        : `Logged out ${ended.length} other session${ended.length === 1 ? "" : "s"}.`,
    );
  } catch (error) {
    if (error.code !== "UNAUTHENTICATED") announce(`Could not log out the other sessions: ${error.message}`);
  } finally {
    if (state.token) updateLogoutOthers();
  }
}

async function signOutHere() {
  try {
    await api(LOGOUT_MUTATION);
  } catch (error) {
    if (error.code === "UNAUTHENTICATED") return;
    if (!error.network) {
      announce(`Could not sign out: ${error.message}`);
      return;
    }
  }
  signedOut("");
}

function onScopeChange() {
  state.allUsers = $("all-users").checked && Boolean(state.viewer && state.viewer.isAdmin);
  // Another scope is another stream: a new subscription (from the last event id, if any) and a reload.
  state.sessions = new Map();
  state.loaded = false;
  state.syncSerial += 1;
  state.syncing = false;
  state.buffer = [];
  renderHead();
  renderTable();
  const client = state.client;
  if (client && client.acknowledged && !client.closed) {
    if (state.subscriptionId) client.unsubscribe(state.subscriptionId);
    state.subscriptionId = null;
    startSubscription(client, { reload: true });
  } else {
    state.attachConfirmed = state.lastEventId !== null;
    sync(); // shows the list now; the next connection subscribes in the new scope
  }
  announce(state.allUsers ? "Showing the sessions of all users of the account." : "Showing your own sessions.");
}

/* ------------------------------------------------------------------------------------------------
 * Boot
 * --------------------------------------------------------------------------------------------- */

function boot() {
  $("login-form").addEventListener("submit", onLoginSubmit);
  $("logout-others").addEventListener("click", logoutOthers);
  $("sign-out").addEventListener("click", signOutHere);
  $("all-users").addEventListener("change", onScopeChange);
  window.addEventListener("online", () => {
    if (state.token && state.reconnectTimer) {
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = null;
      connectLive();
    }
  });

  state.token = readToken();
  if (state.token) start();
  else showLogin();
}

boot();
