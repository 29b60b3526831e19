"""HTTP and websocket adapters: the GraphQL router, open-socket registry, health endpoints."""
