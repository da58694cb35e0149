"""Small pieces of the page's HTML: escaped text, a verdict's CSS class, a link that opens a row."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from harness.report.values import fmt


def esc(v: Any) -> str:
    """A value's display text, escaped for HTML text and attributes."""
    return html.escape(fmt(v), quote=True)


def verdict_class(v: str) -> str:
    return esc("v v-" + "".join(ch for ch in v if ch.isalpha() or ch == "_"))


def row_link(row_id: str, text: str) -> str:
    """A link that opens the row in the table (the page reads `#open=<row id>`)."""
    return f'<a href="#open={esc(quote(row_id, safe=""))}">{esc(text)}</a>'
