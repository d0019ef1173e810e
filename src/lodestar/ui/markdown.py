"""Markdown to safe HTML: raw HTML in a description is shown as text, never injected.

markdown-it with `html` off escapes every tag and attribute a description holds, and its link
validation refuses `javascript:`, `vbscript:`, `file:` and non-image `data:` URLs. Links open
without passing the catalog's address on (`rel="noopener noreferrer nofollow"`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

MAX_RENDERED = 65_536


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")

    def link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return str(self.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


def render(text: str | None) -> Markup:
    """Sanitized HTML for a description (the first 64 KiB of it)."""
    if not text:
        return Markup("")
    return Markup(_parser().render(text[:MAX_RENDERED]))
