"""Config fields every SQL connector shares: the service name, and for servers host, user
and password, each with a message that says how to fix a bad value."""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, SecretStr, field_validator

from lodestar.ingest.errors import ConfigError
from lodestar.ingest.source import SourceConfig
from lodestar.model import fqn as fqn_mod

C = TypeVar("C", bound=SourceConfig)


class SQLConfig(SourceConfig):
    """Fields every SQL connector has."""

    service: str = Field(
        description="Name of the service asset the databases are filed under, e.g. "
        "`warehouse`: the first part of every FQN this source writes."
    )

    @field_validator("service")
    @classmethod
    def _service(cls, v: str) -> str:
        try:
            return fqn_mod.check_part(v)
        except fqn_mod.FQNError as e:
            raise ValueError(f"{e}; name the service like `warehouse`") from None


class ServerConfig(SQLConfig):
    """A database server reached over the network."""

    host: str = Field(description="Host name or IP address of the server, without a port.")
    username: str = Field(description="User to connect as.")
    password: SecretStr | None = Field(
        None, description="The user's password; write `${ENV_VAR}` in a recipe, not the value."
    )
    connect_timeout: int = Field(
        10, ge=1, le=300, description="Seconds to wait for a connection before giving up."
    )

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("give the server's host name, e.g. db.example.com or 127.0.0.1")
        if "://" in v or "/" in v:
            raise ValueError("give the host name only (db.example.com), not a URL")
        if v.count(":") == 1:
            raise ValueError("give the host without ':port'; set the port in `port`")
        return v

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("give the user to connect as, e.g. `lodestar`")
        return v

    def secret(self) -> str | None:
        return self.password.get_secret_value() if self.password is not None else None

    def where(self) -> str:
        return f"{self.host}:{getattr(self, 'port', '?')} as user {self.username!r}"


def expect_config(config: SourceConfig, model: type[C]) -> C:
    if not isinstance(config, model):
        raise ConfigError(f"expected a {model.__name__}, got {type(config).__name__}")
    return config
