"""The service layer: the only code that commits, and the only code that publishes (after commit)."""
