"""Sample rows for the SQL connectors: personal-looking columns masked, cells that look like
personal data masked wherever they are (a generated column `email || '!'` has no telling name),
cells made JSON-safe and bounded in size."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import uuid
from decimal import Decimal
from typing import Any

import orjson

from lodestar.model.kinds.table import SAMPLE_MAX_BYTES

MASK = "***"
MAX_TEXT = 200

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_PII_TOKENS = frozenset(
    {
        "email", "mail", "phone", "mobile", "fax", "ssn", "address", "addr", "street", "zip",
        "zipcode", "postcode", "postal", "name", "firstname", "lastname", "fullname",
        "surname", "username", "birthday", "birthdate", "dob", "birth", "passport", "iban",
        "password", "passwd", "secret", "salary",
    }
)  # fmt: skip
_PII_PAIRS = frozenset({("e", "mail"), ("social", "security"), ("credit", "card")})


def looks_personal(column: str) -> bool:
    """Whether a column name suggests personal data (email, phone, names, addresses...)."""
    tokens = [t for t in _NON_WORD.split(_CAMEL.sub("_", column).lower()) if t]
    if any(t in _PII_TOKENS for t in tokens):
        return True
    return any(pair in _PII_PAIRS for pair in itertools.pairwise(tokens))


# E-mail addresses, phone numbers (a + or a bracketed area code, or 9 to 15 digits in groups),
# payment card numbers (13 to 19 digits that pass the Luhn check) and IBANs (country, check
# digits and 11 to 30 letters and digits that pass the mod-97 check), anywhere in the text.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w.])(?:\+\d[\d ()./-]{7,18}\d|\(\d{2,5}\)[\d ./-]{5,14}\d)(?![\w.])")
_DIGITS = re.compile(r"(?<![\w.])\d(?:[ -]?\d){12,18}(?![\w.])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def looks_personal_value(text: str) -> bool:
    """Whether a text cell holds an e-mail address, a phone, card or IBAN number."""
    if _EMAIL.search(text) or _PHONE.search(text):
        return True
    for m in _DIGITS.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if len(set(digits)) > 1 and _luhn(digits):
            return True
    return any(_iban_ok(m.group()) for m in _IBAN.finditer(text))


def masked_cell(value: Any) -> Any:
    """A JSON-safe cell, masked when its text looks like personal data."""
    cell = json_safe(value)
    if isinstance(cell, str) and len(cell) >= 6 and looks_personal_value(cell):
        return MASK
    if isinstance(cell, int) and not isinstance(cell, bool) and 10**12 <= cell < 10**19:
        digits = str(cell)  # a card number kept as a bigint
        if len(set(digits)) > 1 and _luhn(digits):
            return MASK
    return cell


def json_safe(value: Any, depth: int = 0) -> Any:
    """A JSON value for a sample cell: exotic types as text, long text cut to 200 characters."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)[:MAX_TEXT]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, bytes | bytearray | memoryview):
        return ("0x" + bytes(value[:MAX_TEXT]).hex())[:MAX_TEXT]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()[:MAX_TEXT]
    if isinstance(value, Decimal | uuid.UUID | dt.timedelta):
        return str(value)[:MAX_TEXT]
    if depth < 4 and isinstance(value, list | tuple):
        return [json_safe(v, depth + 1) for v in value[:MAX_TEXT]]
    if depth < 4 and isinstance(value, dict):
        items = list(value.items())[:MAX_TEXT]
        return {str(k)[:MAX_TEXT]: json_safe(v, depth + 1) for k, v in items}
    return str(value)[:MAX_TEXT]


def bounded_rows(rows: list[list[Any]], max_bytes: int = SAMPLE_MAX_BYTES - 1024) -> list[Any]:
    """The leading rows whose JSON fits in `max_bytes`."""
    out: list[list[Any]] = []
    size = 2
    for row in rows:
        size += len(orjson.dumps(row)) + 1
        if size > max_bytes:
            break
        out.append(row)
    return out
