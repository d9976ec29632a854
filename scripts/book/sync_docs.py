#!/usr/bin/python3
"""Copy what each page quotes into the chapter READMEs: ``make sync-docs``.

Usage: scripts/book/sync_docs.py [--check] [MARKDOWN_FILE...]

Every ``{excerpt}`` and ``{bootlog}`` block gets, as its body, the lines the
book renders for it (the code between the markers; the boot's log lines that
its :match:/:max: select), and every ``<!-- log BOOT PATTERN -->VALUE<!-- /log -->``
the value its boot logs. The README then reads without a build, on a
repository host or in an editor's preview. What a block or marker shows is
decided in one place, book/_ext/kernelbook/quotes.py, which the book's
directives and tests/test_docs_sync.py use too.

The boot logs come from build/book/logs; ``make sync-docs`` captures them
first (``make book-logs``), and this refuses logs older than their chapter's
image. Default files: every chapter README and every book page that quotes. ``--check`` changes nothing and
exits 1 when a file would change.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "book" / "_ext"))

from harness import boot_logs  # noqa: E402
from harness.inspections import book_boot  # noqa: E402
from kernelbook import quotes  # noqa: E402
from kernelbook.bootlogs import boot_log_name  # noqa: E402

LOGS = REPO / "build" / "book" / "logs"


def stale_logs(files: list[Path]) -> list[str]:
    """Boots the files quote whose kept log is missing or older than the chapter's image."""
    boots = {boot for file in files for boot in quotes.quoted_boots(file.read_text(encoding="utf-8"))}
    return sorted(boot_log_name(*boot) for boot in boots if not boot_logs.is_fresh(LOGS, book_boot(*boot)))


def pages_with_copies() -> list[Path]:
    """Every chapter README, and the book's own pages that quote code or a boot
    (the paging primer quotes a chapter-04 boot line). writing.md is left out:
    it shows the fences and markers as examples of their syntax."""
    book = [p for p in sorted((REPO / "book").rglob("*.md"))
            if p.name != "writing.md" and any(f"{{{kind}}}" in p.read_text(encoding="utf-8") for kind in ("excerpt", "bootlog"))]
    return sorted(REPO.glob("chapters/*/README.md")) + book


def main(argv: list[str]) -> int:
    check = "--check" in argv
    files = [Path(a).resolve() for a in argv if a != "--check"] or pages_with_copies()
    try:
        stale = stale_logs(files)
    except quotes.QuoteError as error:
        print(f"sync_docs.py: {error}", file=sys.stderr)
        return 1
    if stale:
        print(f"sync_docs.py: no fresh boot log for {', '.join(stale)}: run make book-logs (make sync-docs does)",
              file=sys.stderr)
        return 1
    sources = quotes.Sources(REPO, LOGS)
    changed, errors = [], []
    for file in files:
        name = file.relative_to(REPO) if file.is_relative_to(REPO) else file
        text = file.read_text(encoding="utf-8")
        try:
            new = quotes.sync(sources, text)
        except quotes.QuoteError as error:
            errors.append(f"{name}: {error}")
            continue
        if new != text:
            changed.append(name)
            if not check:
                file.write_text(new, encoding="utf-8")
            print(f"  {'STALE' if check else 'SYNC'}    {name}")
    for error in errors:
        print(f"sync_docs.py: {error}", file=sys.stderr)
    return 1 if errors or (check and changed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
