"""Ingestion errors.

IngestError
 ├── ConfigError      the recipe or a connector config is wrong; the message says how to fix it
 │    └── AlreadyRunning   the pipeline is running elsewhere (another worker, another command)
 ├── TransientError   worth retrying: connection dropped, timeout, lock wait
 └── PermanentError   retrying will not help: bad credentials, missing permission, no database
"""

from __future__ import annotations


class IngestError(Exception):
    pass


class ConfigError(IngestError):
    pass


class AlreadyRunning(ConfigError):
    pass


class TransientError(IngestError):
    pass


class PermanentError(IngestError):
    pass
