"""How the book's HTML lays out what the directives produce.

Every highlighted block (excerpts, boot logs, diffs, the prose's code
fences) marks each of its lines as a ``<span class="kb-line">``, so that
book/_static/book.css can wrap a long line with a hanging indent: its
continuation rows are indented, and an excerpt's line number stays in its
gutter, level with the line's first row. The text is unchanged (the newline
stays between the spans), so copying a block copies its lines. A plain-text
line (a boot log's) has each word in a ``kb-word`` span, so a row breaks
between fields, not at a hyphen inside one. The source listings (``src/…``)
keep their own formatter: one row per line.

It also defines ``details`` and ``summary`` nodes: a part of a page that is
folded until the reader opens it (the chapter diff of ``{chapter-sources}``).
"""

from __future__ import annotations

import re

from docutils import nodes
from pygments.formatters import HtmlFormatter
from sphinx.application import Sphinx


class LineSpanHtmlFormatter(HtmlFormatter):
    """Pygments' HTML formatter with each line in ``<span class="kb-line">``
    (``kb-line kb-numbered`` when the block shows line numbers). Pygments
    closes and reopens its token spans at every newline, so each line is
    well-formed on its own."""

    def wrap(self, source):
        return super().wrap(self._line_spans(source))

    def _line_spans(self, source):
        classes = "kb-line kb-numbered" if self.linenos == 2 else "kb-line"  # 2: numbers inline
        for kind, line in source:
            if kind != 1:
                yield kind, line
                continue
            body, newline = (line[:-1], "\n") if line.endswith("\n") else (line, "")
            number, text = _NUMBER_RE.match(body).groups(default="")
            if "<" not in text:
                # Plain text (a boot log): each word is kept whole, so a row
                # breaks between `key=value` fields, never inside one at its
                # hyphen (`pages-` / `1g=2`).
                text = _WORD_RE.sub(r'<span class="kb-word">\g<0></span>', text)
            yield kind, f'<span class="{classes}">{number}{text}</span>{newline}'


_NUMBER_RE = re.compile(r'(<span class="linenos">[^<]*</span>)?(.*)', re.S)
_WORD_RE = re.compile(r"\S+")


def _use_line_spans(app: Sphinx) -> None:
    for name in ("highlighter", "dark_highlighter"):
        bridge = getattr(app.builder, name, None)
        if bridge is not None and getattr(bridge, "dest", "") == "html":
            bridge.formatter = LineSpanHtmlFormatter


class details(nodes.General, nodes.Element):
    """``<details>``: folded until opened (``open=True`` to start open)."""


class summary(nodes.General, nodes.TextElement):
    """``<summary>``, the first child of a ``details``: what stays in view.
    HTML allows only phrasing content here: inline nodes, not paragraphs."""


def _visit_details(self, node):
    self.body.append(self.starttag(node, "details", "", **({"open": "open"} if node.get("open") else {})))


def _depart_details(self, node):
    self.body.append("</details>\n")


def _visit_summary(self, node):
    self.body.append(self.starttag(node, "summary", ""))


def _depart_summary(self, node):
    self.body.append("</summary>\n")


def _visit_children_only(self, node):
    pass


def _depart_children_only(self, node):
    pass


def setup(app: Sphinx) -> None:
    plain = (_visit_children_only, _depart_children_only)
    app.add_node(details, html=(_visit_details, _depart_details), latex=plain, text=plain, man=plain, texinfo=plain)
    app.add_node(summary, html=(_visit_summary, _depart_summary), latex=plain, text=plain, man=plain, texinfo=plain)
    app.connect("builder-inited", _use_line_spans)
