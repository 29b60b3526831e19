"""Websocket close codes the service uses, with the reasons sent beside them."""

SESSION_ENDED = (4401, "Session ended")  # graphql-ws clients do not retry 4401
SERVER_RESTARTING = (1012, "Server restarting: reconnect")
SUBSCRIBER_TOO_SLOW = (1013, "Too many undelivered events: reconnect with after")
