"""Ingestion: connectors extract metadata from sources; the runner writes it through the one
write path with retries, resume, incremental skips, stale removal and a run report."""
