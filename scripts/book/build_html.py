#!/usr/bin/python3
"""Build the book's HTML, build/book/html, from its pages and the captured boot logs.

Usage: scripts/book/build_html.py

Sphinx + MyST (book/conf.py), every warning an error, always from scratch
(``-E``); skipped when nothing it reads changed since the last build
(sphinx_if_changed.py). ``make book`` runs this after capture_logs.py.
``make test`` captures the logs first and leaves this step to
tests/test_book.py, whose first fixture runs it: then one pytest worker builds
the book while the other boots, instead of both waiting for Sphinx.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sphinx_if_changed  # noqa: E402

BOOK_OUT = REPO / "build" / "book"
PYTHON = "/usr/bin/python3"  # Debian's interpreter, which sees python3-sphinx and python3-myst-parser


def main() -> int:
    print(f"  SPHINX  {BOOK_OUT.relative_to(REPO)}/html", flush=True)
    sphinx = [PYTHON, "-m", "sphinx", "-b", "html", "-E", "-W", "--keep-going", "-n", "-q",
              "-d", str(BOOK_OUT / "doctrees"), str(REPO / "book"), str(BOOK_OUT / "html")]
    return sphinx_if_changed.main([str(BOOK_OUT / "inputs.digest"), "--", *sphinx])


if __name__ == "__main__":
    sys.exit(main())
