"""Events across processes: the broadcaster transport and the per-process hub."""
