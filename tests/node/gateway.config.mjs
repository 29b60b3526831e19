// Hive Gateway in front of the sessions subgraph (this service) and a profiles subgraph, as the federation
// tests run it:  hive-gateway supergraph <supergraph.graphql> -c gateway.config.mjs --port <port>
//
// - The caller's Authorization header goes to the sessions subgraph only (the other subgraph never sees tokens).
// - Subscriptions to the sessions subgraph are passed through over graphql-transport-ws, one socket per token,
//   with the caller's Authorization in the connection_init payload (HTTP clients of the gateway send it as a
//   header, websocket clients in their own connection_init payload).
import { defineConfig } from "@graphql-hive/gateway";

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs({ request, subgraphName }) {
      const authorization = request.headers.get("authorization");
      return subgraphName === "sessions" && authorization ? { authorization } : {};
    },
  },
  transportEntries: {
    sessions: {
      options: {
        subscriptions: {
          kind: "ws",
          options: { connectionParams: { Authorization: "{context.headers.authorization}" } },
        },
      },
    },
  },
  plugins: () => [
    {
      // A websocket client's connection_init payload is merged into context.headers as sent: accept both
      // `Authorization` and `authorization` there (the service itself accepts both).
      onContextBuilding({ context, extendContext }) {
        const headers = context.headers ?? {};
        if (headers.authorization == null && typeof headers.Authorization === "string") {
          extendContext({ headers: { ...headers, authorization: headers.Authorization } });
        }
      },
    },
  ],
  // Subgraph errors keep their message and extensions.code (UNAUTHENTICATED, FORBIDDEN, ...) for clients.
  maskedErrors: false,
  logging: process.env.GATEWAY_LOG_LEVEL ?? "warn",
});
