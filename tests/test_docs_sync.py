"""The chapter READMEs read without a build: every ``{excerpt}`` and
``{bootlog}`` block carries, as its body, a copy of what the book renders for
it, and every ``<!-- log BOOT PATTERN -->VALUE<!-- /log -->`` in the running
text the value its boot logs. ``make sync-docs`` writes them; this fails when a
committed copy is stale. What a block or marker stands for is decided once, in
book/_ext/kernelbook/quotes.py, which the book's directives use too.

No boots of its own: it reads the logs the book step of ``make test`` captured
(build/book/logs) and fails, not skips, when one is missing or older than its
chapter's image. The other tests run the check on small texts of their own, to
show that it can fail and that ``make sync-docs`` writes what it checks.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / "build" / "book" / "logs"
sys.path.insert(0, str(REPO / "book" / "_ext"))

from kernelbook import bootlogs, quotes  # noqa: E402

from harness import boot_logs  # noqa: E402  (tests/ is on sys.path: conftest.py)
from harness.inspections import book_boot  # noqa: E402

PYTHON = "/usr/bin/python3"
sys.path.insert(0, str(REPO / "scripts" / "book"))
from sync_docs import pages_with_copies  # noqa: E402

# Every page that carries copies: the chapter READMEs and the book pages that quote.
READMES = pages_with_copies()


def where(path: Path, finding: quotes.Finding) -> str:
    name = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    return f"{name}:{finding.line}: {finding.what}: {finding.problem}: {quotes.SYNC_HINT}"


@pytest.fixture(scope="module")
def sources() -> quotes.Sources:
    """The repository and its captured boot logs, every quoted boot fresh."""
    boots = {boot for readme in READMES for boot in quotes.quoted_boots(readme.read_text(encoding="utf-8"))}
    stale = sorted(bootlogs.boot_log_name(*b) for b in boots if not boot_logs.is_fresh(LOGS, book_boot(*b)))
    if stale:
        pytest.fail(f"no fresh boot log in {LOGS.relative_to(REPO)} for {', '.join(stale)}: run make book-logs "
                    "(make test does)", pytrace=False)
    return quotes.Sources(REPO, LOGS)


# ---------------------------------------------------------------------------
# The committed READMEs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name if p.name == "README.md" else p.stem)
def test_readme_copies_are_current(sources, readme):
    findings = quotes.check(sources, readme.read_text(encoding="utf-8"))
    if findings:
        pytest.fail("\n".join(where(readme, f) for f in findings), pytrace=False)


def test_the_check_sees_every_block_and_marker():
    """quotes.blocks finds each boot-log block the capture step finds (its own
    reader, bootlogs.boots_in_text), every chapter quotes code, and the running
    text has log markers: a parser that found nothing would pass the check above."""
    markers = 0
    for readme in READMES:
        text = readme.read_text(encoding="utf-8")
        found = quotes.blocks(text)
        if readme.name == "README.md":  # every chapter quotes code; a book page may quote only a boot
            assert any(b.kind == "excerpt" for b in found), readme
        assert found, readme
        assert [b.boot() for b in found if b.kind == "bootlog"] == bootlogs.boots_in_text(text, ("bootlog",)), readme
        markers += len(quotes.log_markers(text))
    assert markers >= 10


# ---------------------------------------------------------------------------
# The check itself, on a small repository of its own
# ---------------------------------------------------------------------------

SOURCE = "int a;\n// book:begin two\nint b;\n    int c;\n// book:end two\n"
LOG = textwrap.dedent("""\
    [INFO  kernel] start x=1
    [INFO  frames] totals ranges=28 bytes=33096KiB
    [INFO  kernel] ready chapter=01-x
    """)
PAGE = textwrap.dedent("""\
    # Chapter 01

    ```{excerpt} chapters/01-x/kernel_main.cpp two
    ```

    - In a list:

      ```{bootlog} 01-x
      :cmdline: dump
      :match: frames|ready
      ```

    It has <!-- log 01-x+dump ranges=(\\d+) -->29<!-- /log --> ranges in
    about <!-- log:MiB 01-x+dump bytes=(\\S+) -->a lot<!-- /log -->, and logs <!-- log 01-x+dump (x=\\d) -->`x=2`<!-- /log -->.

    ````md
    ```{excerpt} chapters/01-x/kernel_main.cpp quoted-in-an-example
    ```
    ````
    """)


def tiny_repo(root: Path) -> quotes.Sources:
    (root / "chapters" / "01-x").mkdir(parents=True)
    (root / "chapters" / "01-x" / "kernel_main.cpp").write_text(SOURCE)
    (root / "logs").mkdir()
    (root / "logs" / "01-x+dump.log").write_text(LOG)
    return quotes.Sources(root, root / "logs")


def problems(sources: quotes.Sources, text: str) -> list[tuple[int, str]]:
    return [(f.line, f.problem) for f in quotes.check(sources, text)]


def test_check_names_every_stale_quote(tmp_path):
    findings = quotes.check(tiny_repo(tmp_path), PAGE)
    assert [(f.line, f.what, f.problem) for f in findings] == [
        (3, "{excerpt} chapters/01-x/kernel_main.cpp two", "has no inline copy"),
        (8, "{bootlog} 01-x :cmdline: dump :match: frames|ready", "has no inline copy"),
        (13, "<!-- log 01-x+dump ranges=(\\d+) -->", "says '29', the log says '28'"),
        (14, "<!-- log:MiB 01-x+dump bytes=(\\S+) -->", "says 'a lot', the log says '32 MiB'"),
        (14, "<!-- log 01-x+dump (x=\\d) -->", "says '`x=2`', the log says '`x=1`'"),
    ]


def test_sync_writes_what_the_check_wants(tmp_path):
    sources = tiny_repo(tmp_path)
    synced = quotes.sync(sources, PAGE)
    assert quotes.check(sources, synced) == []
    assert quotes.sync(sources, synced) == synced
    assert "```{excerpt} chapters/01-x/kernel_main.cpp two\nint b;\n    int c;\n```\n" in synced
    # Options, a blank line, the lines, all at the list item's indentation.
    assert ("  :match: frames|ready\n\n  [INFO  frames] totals ranges=28 bytes=33096KiB\n"
            "  [INFO  kernel] ready chapter=01-x\n  ```\n") in synced
    assert "-->28<!-- /log --> ranges" in synced and "-->32 MiB<!--" in synced and "-->`x=1`<!--" in synced
    assert "quoted-in-an-example\n```\n````" in synced  # an example inside another fence is text


def test_a_changed_source_or_log_makes_the_copy_stale(tmp_path):
    sources = tiny_repo(tmp_path)
    synced = quotes.sync(sources, PAGE)
    (tmp_path / "chapters" / "01-x" / "kernel_main.cpp").write_text(SOURCE.replace("int c;", "int d;"))
    (tmp_path / "logs" / "01-x+dump.log").write_text(LOG.replace("ranges=28", "ranges=27"))
    found = problems(quotes.Sources(tmp_path, tmp_path / "logs"), synced)
    assert [line for line, _ in found] == [3, 10, 18], found
    assert found[0][1] == ("inline copy is stale: its line 2 is '    int c;', "
                           "chapters/01-x/kernel_main.cpp (two) has '    int d;'")
    assert found[1][1].startswith("inline copy is stale: its line 1 is '[INFO  frames] totals ranges=28")
    assert found[2][1] == "says '28', the log says '27'"


@pytest.mark.parametrize("text, message", [
    ("<!-- log 01-x+dump ranges=(\\d+) -->28<!-- /log --> at a line's start\n", "may not begin a line"),
    ("  <!-- log 01-x+dump ranges=(\\d+) -->28<!-- /log --> indented\n", "may not begin a line"),
    ("so <!-- log 01-x+dump ranges=(\\d+)\n-->28<!-- /log --> split\n", "on one line"),
    ("so <!-- log 01-x+dump a--b -->28<!-- /log -->\n", "may not contain '--'"),
    ("so <!-- log:KiB 01-x+dump ranges=(\\d+) -->28<!-- /log -->\n", "formats:"),
    ("so <!-- log nothing ranges=(\\d+) -->28<!-- /log -->\n", "does not name a boot"),
    ("so <!-- log 01-x+other ranges=(\\d+) -->28<!-- /log -->\n", "01-x+other.log was not captured"),
    ("so <!-- log 01-x+dump never=(\\d+) -->28<!-- /log -->\n", "no line of 01-x+dump.log matches"),
])
def test_a_marker_that_cannot_be_read_is_a_finding(tmp_path, text, message):
    found = quotes.check(tiny_repo(tmp_path), text)
    assert len(found) == 1 and message in found[0].problem, found


def test_only_the_listed_varying_fields_are_masked(monkeypatch):
    line = "[INFO  x] done elapsed=12 count=3"
    assert quotes.difference([line], [line.replace("12", "13")], "log") is not None  # nothing varies by default
    monkeypatch.setattr(quotes, "VARYING_FIELDS", ("elapsed",))
    assert quotes.difference([line], [line.replace("elapsed=12", "elapsed=99")], "log") is None
    assert quotes.difference([line], [line.replace("count=3", "count=4")], "log") is not None
    assert quotes.difference([line], [line.replace("done", "failed")], "log") is not None


# ---------------------------------------------------------------------------
# The book build refuses a stale copy too
# ---------------------------------------------------------------------------


def test_a_stale_copy_fails_the_sphinx_build(tmp_path):
    """One fixture book with a synced chapter and a stale one: the build fails
    on each stale quote of the second, naming it, and on nothing in the first
    (so MyST hands the directive the same body quotes.blocks reads)."""
    sources = tiny_repo(tmp_path)
    good = quotes.sync(sources, PAGE)
    stale = good.replace("    int c;", "    int e;").replace("totals ranges=28", "totals ranges=30") \
                .replace("-->28<!-- /log -->", "-->31<!-- /log -->")
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    for chapter, text in (("01-x", good), ("02-y", stale)):
        (tmp_path / "chapters" / chapter).mkdir(exist_ok=True)
        (tmp_path / "chapters" / chapter / "README.md").write_text(text)
        (book / "chapters" / f"{chapter}.md").write_text(f"```{{include}} ../../chapters/{chapter}/README.md\n```\n")
    (book / "index.md").write_text("# Fixture\n\n```{toctree}\n:glob:\n\nchapters/*\n```\n")
    (book / "conf.py").write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(REPO / 'book' / '_ext')!r})
        extensions = ["myst_parser", "kernelbook"]
        book_repo_root = {str(tmp_path)!r}
        book_build_dir = {str(tmp_path / 'build')!r}
        book_logs_dir = {str(tmp_path / 'logs')!r}
        book_require_inline_copies = True
        """))
    done = subprocess.run([PYTHON, "-m", "sphinx", "-b", "html", "-E", "-W", "--keep-going", "-n", "-q",
                           str(book), str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    assert all("02-y/README.md" in w and w.endswith(quotes.SYNC_HINT) for w in warnings), done.stderr
    for expected in (": WARNING: excerpt chapters/01-x/kernel_main.cpp two: inline copy is stale: its line 2 is",
                     ": WARNING: bootlog 01-x: inline copy is stale: its line 1 is '[INFO  frames] totals ranges=30",
                     "02-y/README.md:18: WARNING: <!-- log 01-x+dump ranges=(\\d+) -->: says '31', the log says '28'"):
        assert any(expected in w for w in warnings), f"{expected!r}:\n{done.stderr}"
    assert len(warnings) == 3, done.stderr
