"""Prints the service's GraphQL SDL, the federation subgraph SDL that `_service { sdl }` serves (committed as
schema.graphql)."""

from core.settings import Settings
from schema.build import build_schema

if __name__ == "__main__":
    print(build_schema(Settings(_env_file=None)).as_str())
