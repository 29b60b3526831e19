"""Thin resolvers: read the context, call a service, convert records to schema types."""
