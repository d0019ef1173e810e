"""Fully qualified names: dot-separated parts; a part holding `.`, `"`, a control character
or an invisible one (zero-width, bidirectional controls, spaces other than the plain space), or
starting or ending with white space, is double-quoted. So a name can always be told from its
look-alikes: `orders` and `orders` with a zero-width space are `orders` and `"orders"`.

`""` inside a quoted part escapes one quote, so every list of parts has exactly one spelling.
Every name a source can hold round-trips (PostgreSQL allows `"trailing "` and tabs): only an
empty part and NUL, which no source can name and PostgreSQL cannot store, are refused.
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_PART_LENGTH = 256
MAX_FQN_LENGTH = 2048
# Control characters (C0, DEL, C1) and the characters that print as nothing or as a plain
# space: the soft hyphen, zero-width and bidirectional marks, embeddings and isolates, word
# joiners, the byte order mark, and every space but U+0020.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\xa0\xad\u061c\u1680\u180e\u2000-\u200f\u2028-\u202f"
    "\u205f-\u206f\u3000\ufeff\ufff9-\ufffb]"
)
# The same rule as check_part, for pydantic to check in Rust (names are validated by the
# hundred thousand in bulk ingests): not empty, no NUL.
NAME_PATTERN = r"^[^\x00]+$"
NAME_RULE = "a name must not be empty or contain a NUL character"


class FQNError(ValueError):
    """A name or FQN that cannot be parsed or is not allowed."""


def check_part(part: str) -> str:
    if not part:
        raise FQNError("a name must not be empty")
    if len(part) > MAX_PART_LENGTH:
        raise FQNError(f"a name must be at most {MAX_PART_LENGTH} characters")
    if "\x00" in part:
        raise FQNError("a name must not contain a NUL character")
    return part


def _needs_quotes(part: str) -> bool:
    return (
        "." in part
        or '"' in part
        or part[0].isspace()
        or part[-1].isspace()
        or _CONTROL.search(part) is not None
    )


@lru_cache(maxsize=65_536)
def quote(part: str) -> str:
    """The part as it is spelled in an FQN (checked; cached: the same service, database and
    schema names are quoted for every table a run or a bulk write names)."""
    check_part(part)
    if _needs_quotes(part):
        return '"' + part.replace('"', '""') + '"'
    return part


def join(parts: list[str] | tuple[str, ...]) -> str:
    fqn = ".".join(quote(p) for p in parts)
    if len(fqn) > MAX_FQN_LENGTH:
        raise FQNError(f"a fully qualified name must be at most {MAX_FQN_LENGTH} characters")
    return fqn


def split(fqn: str) -> list[str]:
    """Split an FQN into its unquoted parts; raise FQNError with the position of a fault."""
    if not fqn:
        raise FQNError("the fully qualified name is empty")
    if len(fqn) > MAX_FQN_LENGTH:
        raise FQNError(f"a fully qualified name must be at most {MAX_FQN_LENGTH} characters")
    parts: list[str] = []
    i, n = 0, len(fqn)
    while True:
        if i < n and fqn[i] == '"':
            buf: list[str] = []
            i += 1
            while True:
                if i >= n:
                    raise FQNError(f"unterminated quote in {fqn!r}")
                if fqn[i] == '"':
                    if i + 1 < n and fqn[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(fqn[i])
                i += 1
            part = "".join(buf)
            if i < n and fqn[i] != ".":
                raise FQNError(f"expected '.' after a quoted part at position {i} of {fqn!r}")
        else:
            j = fqn.find(".", i)
            j = n if j < 0 else j
            part = fqn[i:j]
            if '"' in part:
                raise FQNError(f'a part with a double quote must be quoted, as "a""b", in {fqn!r}')
            if part and _needs_quotes(part):
                raise FQNError(
                    "a part that starts or ends with white space or holds control characters "
                    'must be quoted, as "a ", and so must one that holds invisible characters '
                    f"(zero-width, bidirectional, spaces other than U+0020), in {fqn!r}"
                )
            i = j
        parts.append(check_part(part))
        if i >= n:
            return parts
        i += 1  # skip the dot
        if i >= n:
            raise FQNError(f"{fqn!r} ends with '.'")


@lru_cache(maxsize=65_536)
def normalize(fqn: str) -> str:
    """The canonical spelling of an FQN (quotes only where needed). Cached: a bulk ingest
    names the same parents, tags and owners thousands of times."""
    return join(split(fqn))


def parent_of(fqn: str) -> str | None:
    parts = split(fqn)
    return join(parts[:-1]) if len(parts) > 1 else None
