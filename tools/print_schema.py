"""Prints the service's GraphQL SDL (committed as schema.graphql)."""

from schema.build import build_schema

if __name__ == "__main__":
    print(build_schema().as_str())
