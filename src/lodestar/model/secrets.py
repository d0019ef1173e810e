"""Finding credentials written in clear in a document: a secret-named key with a value, a
password in a URL's userinfo, a secret in a URL's query string or in a connection string
(`AccountKey=...`). Each is reported by where it is, never by its value. A `${VAR}` reference
is what belongs there instead: the value is looked up where the recipe runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|account[_-]?key|"
    r"access[_-]?key|(?:^|[_-])sas(?:[_-]|$)|connection[_-]?string|signature|^sig$|^key$)",
    re.I,
)
ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# key=value; pairs of Azure, ODBC and JDBC connection strings
_PAIR = re.compile(r"(?:^|[;&?])\s*([A-Za-z][A-Za-z0-9 _-]*)\s*=\s*([^;&]*)")

HOW = "use a reference such as '${LODESTAR_SECRET_NAME}' and set that variable where it runs"


def _is_ref(value: str) -> bool:
    return bool(ENV_REF.match(value.strip()))


def _in_string(value: str) -> str | None:
    """What secret this string carries in clear, if any."""
    if _URL.match(value):
        try:
            parts = urlsplit(value)
            password = parts.password
        except ValueError:
            return None
        if password and not _is_ref(password):
            return "a password in the URL"
        for key, item in parse_qsl(parts.query):
            if SECRET_KEY.search(key) and item and not _is_ref(item):
                return f"a secret in the URL's query ({key}=)"
        return None
    if "=" in value and ";" in value:
        for key, item in _PAIR.findall(value):
            if SECRET_KEY.search(key) and item.strip() and not _is_ref(item):
                return f"a secret in the connection string ({key.strip()}=)"
    return None


def find_clear_secrets(value: Any, where: str) -> Iterator[str]:
    """Each place in `value` holding a credential in clear, as 'path: what'."""
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}"
            named = isinstance(key, str) and SECRET_KEY.search(key)
            scalar = isinstance(item, str | int | float) and not isinstance(item, bool)
            if named and scalar and item != "" and not (isinstance(item, str) and _is_ref(item)):
                yield f"{path} looks like a secret"
                continue
            yield from find_clear_secrets(item, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from find_clear_secrets(item, f"{where}[{i}]")
    elif isinstance(value, str):
        found = _in_string(value)
        if found is not None:
            yield f"{where} holds {found}"


def check_no_clear_secrets(value: Any, where: str) -> None:
    """Raise ValueError at the first credential in clear, saying what to store instead."""
    for problem in find_clear_secrets(value, where):
        raise ValueError(f"{problem}: {HOW}")
