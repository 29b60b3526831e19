"""Strawberry types, enums, context and errors. The schema itself is built in `schema.build`."""
