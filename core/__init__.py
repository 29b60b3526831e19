"""Cross-cutting building blocks: settings, database, clock, security primitives, domain errors."""
