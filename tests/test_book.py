"""The book (``make book``, build/book/html): its pages render in a real
browser, no internal link, anchor or image is broken, and its extension
refuses stale excerpts and boot-log quotes.

``make test`` builds the book (with warnings as errors) before pytest runs;
these tests read that build and fail, not skip, when it is missing. The
extension tests build small throwaway books of their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK_OUT = REPO / "build" / "book"
HTML = BOOK_OUT / "html"
sys.path.insert(0, str(REPO / "book" / "_ext"))

from kernelbook import bootlogs, markers, sources  # noqa: E402

PYTHON = "/usr/bin/python3"
CHROMIUM = shutil.which("chromium") or "chromium"


# ---------------------------------------------------------------------------
# Reading HTML
# ---------------------------------------------------------------------------


class PageLinks(HTMLParser):
    """The anchors a page defines and the references it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []  # (tag, url)
        self.h1: list[str] = []
        self._in_h1 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.refs.append((tag, a["href"]))
        elif tag in ("img", "script") and a.get("src"):
            self.refs.append((tag, a["src"]))
        elif tag == "link" and a.get("href"):
            self.refs.append((tag, a["href"]))
        if tag == "h1":
            self._in_h1 = True
            self.h1.append("")

    def handle_endtag(self, tag):
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data):
        if self._in_h1:
            self.h1[-1] += data


class CodeBlocks(HTMLParser):
    """The text of each highlighted block (``<pre>``), line numbers left out."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self._depth = 0           # inside <pre>
        self._skip: list[bool] = []  # per open <span>: is it a line number?

    def handle_starttag(self, tag, attrs):
        if tag == "pre":
            self._depth += 1
            self.blocks.append("")
        elif tag == "span" and self._depth:
            self._skip.append("linenos" in (dict(attrs).get("class") or ""))

    def handle_endtag(self, tag):
        if tag == "pre":
            self._depth -= 1
        elif tag == "span" and self._depth and self._skip:
            self._skip.pop()

    def handle_data(self, data):
        if self._depth and not any(self._skip):
            self.blocks[-1] += data


def code_blocks(text: str) -> list[str]:
    parser = CodeBlocks()
    parser.feed(text)
    return [block.strip("\n") for block in parser.blocks]


def parse(text: str) -> PageLinks:
    page = PageLinks()
    page.feed(text)
    return page


_ids_cache: dict[Path, set[str]] = {}


def ids_of(path: Path) -> set[str]:
    if path not in _ids_cache:
        _ids_cache[path] = parse(path.read_text(encoding="utf-8")).ids
    return _ids_cache[path]


def broken_refs(page_path: Path, page: PageLinks) -> list[str]:
    """Internal references of ``page`` (at ``page_path``) that lead nowhere."""
    broken = []
    for tag, url in page.refs:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "mailto", "data", "javascript") or url.startswith("//"):
            continue
        if parts.scheme == "file":
            target = Path(unquote(parts.path))
        elif parts.path:
            target = (page_path.parent / unquote(parts.path)).resolve()
        else:
            target = page_path
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(f"<{tag}> {url}: no file {target}")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids_of(target):
            broken.append(f"<{tag}> {url}: no id {parts.fragment!r} in {target.relative_to(HTML)}")
    return broken


@pytest.fixture(scope="module")
def html_pages() -> list[Path]:
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML.relative_to(REPO)}/index.html does not exist: run make book first", pytrace=False)
    return sorted(HTML.rglob("*.html"))


def book_pages(pages: list[Path]) -> list[Path]:
    """The written pages, not the generated source listings or Sphinx's own."""
    return [p for p in pages if not p.relative_to(HTML).as_posix().startswith(("src/", "genindex", "search"))]


# ---------------------------------------------------------------------------
# The built book
# ---------------------------------------------------------------------------


def test_every_chapter_has_a_page(html_pages):
    for chapter in sources.chapter_names(REPO):
        if (REPO / "book" / "chapters" / f"{chapter}.md").is_file():
            assert (HTML / "chapters" / f"{chapter}.html").is_file(), chapter
    assert (HTML / "chapters" / "01-boot.html").is_file()


def test_no_broken_internal_links_anchors_or_images(html_pages):
    """Every page, source listings included, parsed as built."""
    broken = []
    for path in html_pages:
        broken += [f"{path.relative_to(HTML)}: {b}" for b in broken_refs(path, parse(path.read_text(encoding="utf-8")))]
    assert not broken, "\n".join(broken)


def test_excerpts_are_the_code_between_the_markers(html_pages):
    page = (HTML / "chapters" / "01-boot.html").read_text(encoding="utf-8")
    scan = markers.scan_tree(REPO, ["chapters/01-boot"])
    region = scan.regions[("chapters/01-boot/kernel_main.cpp", "kernel-main")]
    code, first = markers.excerpt_lines((REPO / region.path).read_text(encoding="utf-8"), region)
    assert first == region.begin_line + 1
    assert code.strip("\n") in code_blocks(page)
    # The caption links to the whole file at the excerpt's first line.
    assert f"src/chapters/01-boot/kernel_main.cpp.html#L-{first}" in page


def test_boot_logs_come_from_a_real_boot(html_pages):
    import json

    meta = json.loads((BOOK_OUT / "logs" / "01-boot.json").read_text())
    assert meta["outcome"] == "success" and meta["cmdline"] == ""
    log = (BOOK_OUT / "logs" / "01-boot.log").read_text().splitlines()
    ready = [line for line in log if line.startswith("[INFO  kernel] ready ")]
    assert ready, log
    page = (HTML / "chapters" / "01-boot.html").read_text(encoding="utf-8")
    assert ready[0] in page.replace("&quot;", '"')


def _chromium(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="book-chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout,
        )


def test_pages_render_in_chromium_with_working_links(html_pages):
    """Chromium loads each written page (scripts run) and the DOM it ends with
    has its title and no reference that leads nowhere."""
    pages = book_pages(html_pages)

    def render(path: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
        return path, _chromium("--dump-dom", path.as_uri())

    failures = []
    with ThreadPoolExecutor(2) as pool:
        for path, done in pool.map(render, pages):
            name = path.relative_to(HTML)
            if done.returncode != 0 or "<html" not in done.stdout:
                failures.append(f"{name}: chromium failed ({done.returncode}): {done.stderr[-500:]}")
                continue
            dom = parse(done.stdout)
            built = parse(path.read_text(encoding="utf-8"))
            if not dom.h1 or dom.h1[0].strip() != built.h1[0].strip():
                failures.append(f"{name}: rendered DOM lacks the page title {built.h1[:1]}")
            failures += [f"{name} (rendered): {b}" for b in broken_refs(path, dom)]
    assert not failures, "\n".join(failures)


def test_screenshot_of_a_chapter_page(html_pages):
    shot = BOOK_OUT / "screenshot-01-boot.png"
    shot.unlink(missing_ok=True)
    done = _chromium("--hide-scrollbars", "--window-size=1280,2000", f"--screenshot={shot}",
                     (HTML / "chapters" / "01-boot.html").as_uri())
    assert shot.is_file(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, f"{len(data)} bytes"


# ---------------------------------------------------------------------------
# The extension's pieces
# ---------------------------------------------------------------------------


def test_marker_scan_reports_unbalanced_and_duplicate_markers():
    scan = markers.MarkerScan()
    markers.scan_text("a.cpp", textwrap.dedent("""\
        // book:begin good
        int x;
        // book:end good
        // book:begin open
        // book:end stray
        /* book:begin good */
        """), scan)
    assert ("a.cpp", "good") in scan.regions
    messages = " | ".join(m for _, _, m in scan.errors)
    assert "'good' begins twice" in messages
    assert "book:end stray without" in messages
    assert "book:begin open is never closed" in messages


def test_excerpt_drops_nested_marker_lines_and_dedents():
    text = "void f() {\n    // book:begin outer\n    // book:begin inner\n    a();\n    // book:end inner\n    b();\n    // book:end outer\n}\n"
    scan = markers.MarkerScan()
    markers.scan_text("f.cpp", text, scan)
    code, first = markers.excerpt_lines(text, scan.regions[("f.cpp", "outer")])
    assert code.splitlines() == ["a();", "", "b();"] and first == 4


def test_boots_are_found_in_markdown():
    text = "```{bootlog} 01-boot\n:match: x\n:cmdline:  test.fail=panic  log=debug\n```\n\n  ```{bootlog} 02-x\n  ```\n"
    assert bootlogs.boots_in_text(text) == [("01-boot", "test.fail=panic log=debug"), ("02-x", "")]
    assert bootlogs.boot_log_name("01-boot", "a b=c") == "01-boot+a+b=c"


def test_indexes_are_read_from_the_sources():
    formats = {f.shape for f in sources.log_formats(REPO, ["chapters", "common"])}
    assert "[INFO  kernel] ready chapter=…" in formats
    options = {o.name: o for o in sources.command_line_options(REPO, ["chapters", "common"])}
    assert options["loader.dump-map"].form == "flag"
    assert {"panic", "assert", "invalid-opcode", "page-fault"} <= set(options["test.fail"].values)


# ---------------------------------------------------------------------------
# The extension inside Sphinx: a throwaway repository and book
# ---------------------------------------------------------------------------


def _fixture_book(root: Path, page: str) -> Path:
    """A minimal repository (one chapter, one source file, one boot log) and
    a book whose chapter page is ``page``; returns the book folder."""
    (root / "chapters" / "01-x").mkdir(parents=True)
    (root / "chapters" / "01-x" / "kernel_main.cpp").write_text(textwrap.dedent("""\
        // book:begin used
        void kernel_main() {}
        // book:end used
        // book:begin unused
        int unused;
        // book:end unused
        // book:begin unbalanced
        """))
    (root / "logs").mkdir()
    (root / "logs" / "01-x.log").write_text("[INFO  kernel] ready chapter=01-x\n")
    book = root / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "conf.py").write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(REPO / 'book' / '_ext')!r})
        extensions = ["myst_parser", "kernelbook"]
        book_repo_root = {str(root)!r}
        book_build_dir = {str(root / 'build')!r}
        book_logs_dir = {str(root / 'logs')!r}
        """))
    (book / "index.md").write_text("# Fixture\n\n```{toctree}\n:glob:\n\nchapters/*\n```\n")
    (book / "chapters" / "01-x.md").write_text(page)
    return book


def _sphinx(book: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "sphinx", "-b", "html", "-E", "-W", "--keep-going", "-n", "-q", str(book), str(out)],
        capture_output=True, text=True, timeout=120,
    )


def test_stale_excerpts_and_quotes_fail_the_build(tmp_path):
    page = textwrap.dedent("""\
        # Chapter 01

        ```{excerpt} chapters/01-x/kernel_main.cpp used
        ```
        ```{excerpt} chapters/01-x/kernel_main.cpp gone
        ```
        ```{bootlog} 01-x
        :match: never printed
        ```
        [missing](../../chapters/01-x/nothing.cpp)
        """)
    done = _sphinx(_fixture_book(tmp_path, page), tmp_path / "out")
    assert done.returncode != 0
    for expected in (
        "no book:begin gone / book:end gone pair in chapters/01-x/kernel_main.cpp",  # referenced, absent
        "book marker 'unused' in chapters/01-x/kernel_main.cpp is used by no page",  # defined, never used
        "book:begin unbalanced is never closed",                                    # unbalanced
        "no line of 01-x.log matches 'never printed'",                              # stale log quote
        "nothing.cpp",                                                              # broken file link
    ):
        assert expected in done.stderr, f"{expected!r} not reported:\n{done.stderr}"


def test_a_clean_fixture_builds_without_warnings(tmp_path):
    # The chapter page includes the chapter's README, whose links are written
    # relative to the README's own folder.
    book = _fixture_book(tmp_path, "```{include} ../../chapters/01-x/README.md\n```\n")
    (tmp_path / "chapters" / "01-x" / "README.md").write_text(textwrap.dedent("""\
        # Chapter 01

        ```{excerpt} chapters/01-x/kernel_main.cpp used
        ```
        ```{excerpt} chapters/01-x/kernel_main.cpp unused
        ```
        ```{bootlog} 01-x
        :match: ready
        ```
        See [the kernel](kernel_main.cpp), [again](../01-x/kernel_main.cpp#L2)
        and {src}`its source <chapters/01-x/kernel_main.cpp>`.
        """))
    source = tmp_path / "chapters" / "01-x" / "kernel_main.cpp"
    source.write_text(source.read_text().replace("// book:begin unbalanced\n", ""))
    done = _sphinx(book, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "out" / "chapters" / "01-x.html").read_text()
    assert "void kernel_main() {}" in code_blocks(html)
    assert "[INFO  kernel] ready chapter=01-x" in code_blocks(html)
    assert (tmp_path / "out" / "src" / "chapters" / "01-x" / "kernel_main.cpp.html").is_file()
    assert html.count('href="../src/chapters/01-x/kernel_main.cpp.html') == 3 + 2  # 3 links, 2 excerpt captions
    assert 'href="../src/chapters/01-x/kernel_main.cpp.html#L-2"' in html
