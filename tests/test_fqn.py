"""Fully qualified names: one spelling per list of parts, and clear errors for bad input."""

from __future__ import annotations

import pytest

from lodestar.model import fqn
from lodestar.model.fqn import MAX_FQN_LENGTH, MAX_PART_LENGTH, FQNError

ROUND_TRIPS = [
    (["wh", "db", "raw", "orders"], "wh.db.raw.orders"),
    (["wh", "db", "raw", "a.b"], 'wh.db.raw."a.b"'),
    (["wh", 'say "hi"'], 'wh."say ""hi"""'),
    (['"'], '""""'),
    (['""'], '""""""'),
    (["."], '"."'),
    (["a.b", "c.d"], '"a.b"."c.d"'),
    (["a..b", 'x"."y'], '"a..b"."x"".""y"'),
    (["größe", "数据", "таблица", "📦 box"], "größe.数据.таблица.📦 box"),
    (["emoji.dot🙂"], '"emoji.dot🙂"'),
    (["with space", "tab-free"], "with space.tab-free"),
    (["single"], "single"),
    # names PostgreSQL allows: white space at an end, control characters, kept as they are
    (["sales", "trailing "], 'sales."trailing "'),
    ([" leading", "x"], '" leading".x'),
    (["tab\there", "line\nbreak"], '"tab\there"."line\nbreak"'),
    (["a\x01", "new\x1b[31mcomer", "del\x7f"], '"a\x01"."new\x1b[31mcomer"."del\x7f"'),
    (["\t"], '"\t"'),
    ([" "], '" "'),
]


@pytest.mark.parametrize(("parts", "spelled"), ROUND_TRIPS)
def test_join_and_split_round_trip(parts: list[str], spelled: str) -> None:
    assert fqn.join(parts) == spelled
    assert fqn.split(spelled) == parts
    assert fqn.normalize(spelled) == spelled
    assert fqn.split(fqn.join(parts)) == parts


@pytest.mark.parametrize(
    ("part", "quoted"),
    [
        ("orders", "orders"),
        ("a.b", '"a.b"'),
        ('a"b', '"a""b"'),
        ('"', '""""'),
        ("ünïcödé", "ünïcödé"),
        ("'single'", "'single'"),
    ],
)
def test_quote_adds_quotes_only_where_needed(part: str, quoted: str) -> None:
    assert fqn.quote(part) == quoted
    assert fqn.split(quoted) == [part]


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ('"wh"."db"."raw"."orders"', "wh.db.raw.orders"),
        ('wh."db".raw."a.b"', 'wh.db.raw."a.b"'),
        ('"x""y"', '"x""y"'),
        ('"plain"', "plain"),
    ],
)
def test_normalize_drops_needless_quotes(spelling: str, canonical: str) -> None:
    assert fqn.normalize(spelling) == canonical
    assert fqn.split(spelling) == fqn.split(canonical)


def test_parent_of() -> None:
    assert fqn.parent_of('wh.db.raw."a.b"') == "wh.db.raw"
    assert fqn.parent_of('"a.b".c') == '"a.b"'
    assert fqn.parent_of("top") is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("", "empty"),
        ("a..b", "empty"),
        (".a", "empty"),
        ("a.", "ends with '.'"),
        ('"a.b".', "ends with '.'"),
        ('"abc', "unterminated quote"),
        ('a."b', "unterminated quote"),
        ('"a""', "unterminated quote"),
        ('"a"b', "expected '.'"),
        ('a"b', "must be quoted"),
        ('a.b"c', "must be quoted"),
        ('""', "empty"),
        ("a.b\tc", "control characters must be quoted"),
        ("a\nb", "control characters must be quoted"),
        ('"a\x00b"', "NUL"),
        ("a\x7fb", "control characters must be quoted"),
        (" a.b", "white space or holds control characters must be quoted"),
        ("a. b", "white space or holds control characters must be quoted"),
        ("a.b ", "white space or holds control characters must be quoted"),
    ],
)
def test_split_rejects_bad_names(bad: str, message: str) -> None:
    with pytest.raises(FQNError, match=message) as exc:
        fqn.split(bad)
    with pytest.raises(FQNError):
        fqn.normalize(bad)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([""], "must not be empty"),
        (["a", ""], "must not be empty"),
        (["a\x00"], "NUL"),
        (["line", "nul\x00"], "NUL"),
        (["x" * (MAX_PART_LENGTH + 1)], f"at most {MAX_PART_LENGTH}"),
    ],
)
def test_join_rejects_bad_parts(parts: list[str], message: str) -> None:
    with pytest.raises(FQNError, match=message):
        fqn.join(parts)


def test_quote_rejects_bad_part() -> None:
    with pytest.raises(FQNError, match="must not be empty"):
        fqn.quote("")
    with pytest.raises(FQNError, match="NUL"):
        fqn.quote("a\x00b")


def test_part_length_limit_is_inclusive() -> None:
    longest = "x" * MAX_PART_LENGTH
    assert fqn.split(fqn.join([longest, longest])) == [longest, longest]


def test_fqn_length_limit() -> None:
    part = "p" * 200
    parts = [part] * (MAX_FQN_LENGTH // 201)  # just under the limit
    assert fqn.split(fqn.join(parts)) == parts
    too_many = [part] * (MAX_FQN_LENGTH // 201 + 1)
    with pytest.raises(FQNError, match=f"at most {MAX_FQN_LENGTH}"):
        fqn.join(too_many)
    with pytest.raises(FQNError, match=f"at most {MAX_FQN_LENGTH}"):
        fqn.split(".".join(too_many))


def test_every_spelling_of_the_same_parts_normalizes_alike() -> None:
    parts = ["svc", "a.b", 'q"uote', "plain"]
    canonical = fqn.join(parts)
    fully_quoted = ".".join('"' + p.replace('"', '""') + '"' for p in parts)
    assert fully_quoted != canonical
    assert fqn.normalize(fully_quoted) == canonical
    assert fqn.split(fully_quoted) == parts


@pytest.mark.parametrize(
    "part",
    ["zero\u200bwidth", "bidi\u202eflip", "nbsp\u00a0space", "soft\u00adhyphen", "bom\ufeff",
     "isolate\u2066x\u2069", "ideographic\u3000space", "c1\x85control"],
)  # fmt: skip
def test_a_part_with_an_invisible_character_is_quoted_so_it_differs_from_its_look_alike(
    part: str,
) -> None:
    quoted = fqn.quote(part)
    assert quoted == f'"{part}"'
    assert fqn.split(f"svc.{quoted}") == ["svc", part]
    with pytest.raises(fqn.FQNError, match="so must one that holds invisible characters"):
        fqn.split(f"svc.{part}")


def test_visible_non_ascii_names_stay_unquoted() -> None:
    for part in ["café", "日本語", "naïve name", "Ünïcödé"]:
        assert fqn.quote(part) == part
