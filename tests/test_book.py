"""The book (``make book``, build/book/html): its pages render in a real
browser, no internal link, anchor or image is broken, its diagrams show what
the boot logs they are drawn from say, and its extension refuses stale
excerpts, boot-log quotes and diagrams.

The first fixture builds the book (scripts/book/build_html.py, warnings as
errors; nothing is rebuilt when nothing changed) from the boot logs ``make
test`` captured before pytest started, and fails, not skips, when it cannot.
The extension tests build small throwaway books of their own.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK_OUT = REPO / "build" / "book"
HTML = BOOK_OUT / "html"
sys.path.insert(0, str(REPO / "book" / "_ext"))

from kernelbook import bootlogs, markers, sources  # noqa: E402

import harness  # noqa: E402  (tests/ is on sys.path: conftest.py)

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


_parsed_cache: dict[Path, PageLinks] = {}


def parsed(path: Path) -> PageLinks:
    """A built page, parsed once per test run (the link check reads every page
    as a source and many as targets)."""
    if path not in _parsed_cache:
        _parsed_cache[path] = parse(path.read_text(encoding="utf-8"))
    return _parsed_cache[path]


def ids_of(path: Path) -> set[str]:
    return parsed(path).ids


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
    """The built book's pages, built first if anything it reads changed.

    ``make test`` captures the boot logs and leaves the Sphinx build to this
    fixture (it is skipped when nothing changed), so that it runs on one worker
    while the other boots."""
    built = subprocess.run([PYTHON, str(REPO / "scripts" / "book" / "build_html.py")],
                           capture_output=True, text=True, timeout=600)
    if built.returncode != 0:
        pytest.fail(f"the book does not build (run make book):\n{built.stdout[-4000:]}{built.stderr[-4000:]}",
                    pytrace=False)
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML.relative_to(REPO)}/index.html does not exist: run make book", pytrace=False)
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
        broken += [f"{path.relative_to(HTML)}: {b}" for b in broken_refs(path, parsed(path))]
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
    assert any(ready[0] in block.splitlines() for block in code_blocks(page))


def _chromium(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="book-chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             # No background connections, updates or extensions: the machine has no network
             # to give them, and each start is about 0.2 s faster without them.
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-quic", "--disable-extensions", "--disable-default-apps",
             f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout,
        )


# One Chromium for every written page: each in a frame of a probe page, which
# reports, once all have loaded, each frame's DOM as its scripts left it and
# what each diagram measures as laid out. One start instead of one per page:
# Chromium's start costs more than rendering a page.
_PROBE = """<!doctype html><html><body><pre id="out">pending</pre>%s<script>
  const frames = [...document.querySelectorAll("iframe")];
  const result = {};
  function diagrams(doc) {
    const items = [];
    for (const svg of doc.querySelectorAll("svg.kernelbook-diagram")) {
      const r = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
      const item = {kind: svg.getAttribute("class"), width: r.width, height: r.height, texts: 0, problems: []};
      for (const t of svg.querySelectorAll("text")) {
        item.texts++;
        const b = t.getBBox();
        if (t.textContent && b.width <= 0) item.problems.push("no width: " + t.textContent);
        if (b.x < -0.5 || b.x + b.width > vb.width + 0.5) item.problems.push("outside the drawing: " + t.textContent);
      }
      for (const g of svg.querySelectorAll("g.as-region, g.ps-region, g.ps-kernel")) {
        const box = g.querySelector("rect").getBBox();
        for (const t of g.querySelectorAll("text")) {
          const b = t.getBBox();
          if (b.x + b.width > box.x + box.width) item.problems.push("out of its band: " + t.textContent);
        }
      }
      items.push(item);
    }
    return items;
  }
  // What a reader sees of each boot log and of the chapter diff: whether a
  // log block (or a box around it) scrolls sideways, whether the diff is
  // folded, the files its summary lists and what the diff blocks say.
  function layout(doc) {
    const logs = [];
    for (const pre of doc.querySelectorAll(".boot-log pre")) {
      const wrapper = pre.closest(".literal-block-wrapper") || pre.parentElement;
      const scrolls = [];
      for (let e = pre; e && e !== wrapper.parentElement; e = e.parentElement)
        if (e.scrollWidth > e.clientWidth) scrolls.push(`${e.tagName.toLowerCase()}.${e.className}: ${e.scrollWidth} > ${e.clientWidth}`);
      logs.push({first: pre.textContent.split("\\n")[0], scrolls,
                 right: pre.getBoundingClientRect().right, viewport: doc.documentElement.clientWidth});
    }
    const diffs = [...doc.querySelectorAll("details.chapter-diff")].map(d => ({
      open: d.open,
      summaryShown: d.querySelector(":scope > summary").checkVisibility(),
      files: [...d.querySelectorAll(":scope > summary .chapter-diff-file")].map(f => f.textContent.replace(/\\s+/g, " ").trim()),
      blocks: [...d.querySelectorAll("pre")].map(pre => {
        const lines = pre.textContent.split("\\n");
        return {head: lines.slice(0, 2), shown: pre.checkVisibility(),
                added: lines.slice(2).filter(l => l.startsWith("+")).length,
                removed: lines.slice(2).filter(l => l.startsWith("-")).length};
      }),
    }));
    return {width: doc.defaultView.innerWidth, logs, diffs};
  }
  // The window's load event waits for every frame's: a frame's own event may
  // come before this script could listen for it.
  window.addEventListener("load", () => {
    for (const f of frames) {
      const doc = f.contentDocument;
      result[f.dataset.page] = {dom: doc.documentElement.outerHTML, diagrams: diagrams(doc), layout: layout(doc)};
    }
    document.getElementById("out").textContent = JSON.stringify(result);
  });
</script></body></html>"""


@pytest.fixture(scope="module")
def rendered(html_pages, tmp_path_factory) -> dict[str, dict]:
    """Page path relative to the HTML root -> {"dom": …, "diagrams": […], "layout": {…}},
    from one Chromium, each page in a frame 1280 px wide."""
    import json

    pages = book_pages(html_pages)
    frames = "".join(f'<iframe style="width:1280px;height:900px" data-page="{p.relative_to(HTML).as_posix()}" '
                     f'src="{p.as_uri()}"></iframe>' for p in pages)
    probe = tmp_path_factory.mktemp("chromium") / "probe.html"
    probe.write_text(_PROBE % frames, encoding="utf-8")
    done = _chromium("--allow-file-access-from-files", "--dump-dom", probe.as_uri())
    match = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, re.S)
    assert match and match[1] != "pending", f"chromium: {done.returncode} {done.stderr[-1000:]}"
    result = json.loads(unescape(match[1]))
    assert sorted(result) == sorted(p.relative_to(HTML).as_posix() for p in pages)
    return result


def test_pages_render_in_chromium_with_working_links(rendered):
    """Chromium loads each written page (scripts run) and the DOM it ends with
    has its title and no reference that leads nowhere."""
    failures = []
    for name, page in rendered.items():
        path = HTML / name
        if "<head" not in page["dom"]:
            failures.append(f"{name}: chromium rendered no document")
            continue
        dom = parse(page["dom"])
        built = parsed(path)
        if not dom.h1 or dom.h1[0].strip() != built.h1[0].strip():
            failures.append(f"{name}: rendered DOM lacks the page title {built.h1[:1]}")
        failures += [f"{name} (rendered): {b}" for b in broken_refs(path, dom)]
    assert not failures, "\n".join(failures)


def test_boot_logs_do_not_scroll_sideways(rendered):
    """Every chapter page at 1280 px: no boot-log block scrolls sideways (a
    field the text asks about would hide behind the scrollbar)."""
    chapters = [c for c in sources.chapter_names(REPO) if (HTML / "chapters" / f"{c}.html").is_file()]
    problems = []
    for chapter in chapters:
        layout = rendered[f"chapters/{chapter}.html"]["layout"]
        assert layout["width"] == 1280, layout["width"]
        if not layout["logs"]:
            problems.append(f"{chapter}: no boot log found (is it still a .boot-log block?)")
        for log in layout["logs"]:
            if log["scrolls"] or log["right"] > log["viewport"]:
                problems.append(f"{chapter}: boot log {log['first'][:60]!r} scrolls sideways: {log['scrolls']}, "
                                f"right edge {log['right']} of {log['viewport']}")
    assert not problems, "\n".join(problems)


def _diff_file(block: dict) -> str:
    """``status path +added −removed`` of one file's diff block, read from its
    ``---``/``+++`` header and its lines, as the diff's summary should list it."""
    old, new = (line.split(" ", 1)[1] for line in block["head"])
    status = "new" if old == "/dev/null" else "removed" if new == "/dev/null" else "changed"
    path = old[2:] if status == "removed" else new[2:]
    return f"{status} {path} +{block['added']:,} \u2212{block['removed']:,}"


def test_chapter_diffs_are_folded_behind_a_summary_of_files(rendered):
    """Every chapter page after the first at 1280 px: the chapter diff is
    folded (its blocks are not shown) behind a summary, in view, that lists
    each file of the diff with its status and line counts, as the diff
    blocks inside say them. The first chapter has nothing to compare with."""
    chapters = [c for c in sources.chapter_names(REPO) if (HTML / "chapters" / f"{c}.html").is_file()]
    problems = []
    for index, chapter in enumerate(chapters):
        diffs = rendered[f"chapters/{chapter}.html"]["layout"]["diffs"]
        if index == 0:
            if diffs:
                problems.append(f"{chapter}: a chapter diff on the first chapter")
            continue
        if len(diffs) != 1:
            problems.append(f"{chapter}: {len(diffs)} chapter diffs")
            continue
        [diff] = diffs
        if diff["open"] or not diff["summaryShown"] or any(b["shown"] for b in diff["blocks"]):
            problems.append(f"{chapter}: the chapter diff is not folded (open={diff['open']}, "
                            f"summary shown={diff['summaryShown']}, blocks shown={[b['shown'] for b in diff['blocks']]})")
        expected = [_diff_file(b) for b in diff["blocks"]]
        if not expected or diff["files"] != expected:
            problems.append(f"{chapter}: the diff's summary lists {diff['files']}, its blocks are {expected}")
    assert not problems, "\n".join(problems)


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
    assert bootlogs.boots_in_text(text) == [("01-boot", "test.fail=panic log=debug", ""), ("02-x", "", "")]
    assert bootlogs.boot_log_name("01-boot", "a b=c") == "01-boot+a+b=c"
    assert bootlogs.boot_log_name("04-x", "a", "4G") == "04-x@4G+a"
    assert bootlogs.make_run_command("04-x", "a b", "4G") == "make run CH=04-x MEM=4G CMDLINE=a b"
    assert bootlogs.boots_in_text("```{bootlog} 04-x\n:memory: 4G\n```\n") == [bootlogs.Boot("04-x", "", "4G")]
    # The diagrams read boots too, so the capture step must find them.
    diagrams_text = "```{address-space} 05-paging\n```\n```{page-walk} 04-page-tables\n:check: kernel_main\n:cmdline: test.remap\n```\n" \
        "```{process-space} 13-demand-paging\n:name: sparse\n```\n"
    assert bootlogs.boots_in_text(diagrams_text) == [("05-paging", "", ""), ("04-page-tables", "test.remap", ""),
                                                     ("13-demand-paging", "", "")]
    assert bootlogs.boots_in_text(diagrams_text + text, ("page-walk",)) == [("04-page-tables", "test.remap", "")]


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


# ---------------------------------------------------------------------------
# Diagrams: {address-space} and {page-walk}, drawn from the boot logs
# ---------------------------------------------------------------------------

import xml.etree.ElementTree as ET  # noqa: E402

from kernelbook import diagram_model  # noqa: E402

SVG_NS = "{http://www.w3.org/2000/svg}"
# Every chapter whose page draws its address space: from 04 (the kernel's own
# tables) on. Derived from the chapter list, so a new chapter is covered too.
DIAGRAM_CHAPTERS = [c for c in harness.chapters() if c >= "04"]


def svgs(page: str, kind: str) -> list[ET.Element]:
    """The inline diagrams of one kind in a built page, parsed as XML."""
    found = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="kernelbook-diagram ' + kind + r'".*?</svg>',
                       page, re.S)
    return [ET.fromstring(svg) for svg in found]


def svg_text(element: ET.Element) -> list[str]:
    """The visible text lines of an element (``<title>`` tooltips left out)."""
    return ["".join(t.itertext()) for t in element.iter(SVG_NS + "text")]


def expected_regions(log: str) -> dict[str, dict[str, str]]:
    """What the address-space diagram must show, read from the log with the
    tests' own parser (tests/harness/log.py), keyed by start address."""
    import harness
    from harness.log import int_field, size_field

    records = harness.parse_records(log)
    phases = {r.event.split()[1]: r for r in records if r.subsystem == "paging" and r.event.startswith("phase ")}
    removed = any(r.subsystem == "paging" and r.event == "identity map removed" for r in records)
    out: dict[str, dict[str, str]] = {}

    def add(va: int, **values):
        out[f"{va:#x}"] = {k.replace("_", "-"): str(v) for k, v in values.items()}

    for r in records:
        if r.subsystem == "paging" and r.event == "identity run":
            start, end = int_field(r, "start"), int_field(r, "end")
            add(start, end=f"{end:#x}", flags=phases["identity_map_low_memory"].fields["flags"],
                pages_4k=r.fields["pages-4k"], pages_2m=r.fields["pages-2m"], **({"removed": "yes"} if removed else {}))
        elif r.subsystem == "paging" and r.event == "window run":
            va = int_field(r, "va")
            add(va, end=f"{va + int_field(r, 'end') - int_field(r, 'start'):#x}", pa=r.fields["start"],
                flags=phases["map_phys_offset_regions"].fields["flags"], pages_4k=r.fields["pages-4k"],
                pages_2m=r.fields["pages-2m"])
        elif r.subsystem == "paging" and r.event == "map" and "section" in r.fields:
            va = int_field(r, "va")
            add(va, end=f"{va + size_field(r, 'size'):#x}", pa=r.fields["pa"], flags=r.fields["flags"],
                pages_4k=size_field(r, "size") // 4096, name=f"kernel .{r.fields['section']}")
        elif r.subsystem == "paging" and r.event == "guard":
            add(int_field(r, "va"), name=f"guard {r.fields['name']}")
        elif r.subsystem == "mmio" and r.event.startswith("map "):
            va = int_field(r, "va")
            add(va, end=f"{va + size_field(r, 'size'):#x}", pa=r.fields["pa"], type=r.fields["type"],
                flags=r.fields["flags"], pages_4k=r.fields.get("pages-4k", size_field(r, "size") // 4096))
        elif r.subsystem == "paging" and r.event == "phase create_temporary_window":
            add(int_field(r, "va"), flags=r.fields["flags"], name="temporary window slot")
        elif r.subsystem == "paging" and r.event == "stack":
            va = int_field(r, "va")
            add(va, end=f"{va + size_field(r, 'size'):#x}", flags=r.fields["flags"],
                pages_4k=size_field(r, "size") // 4096, name=f"stack {r.fields['name']}")
            add(int_field(r, "guard"), name=f"guard {r.fields['name']}")
        elif r.subsystem == "paging" and r.event == "phase create_heap":
            va = int_field(r, "va")
            add(va, end=f"{va + size_field(r, 'bytes'):#x}", flags=r.fields["flags"], pages_4k=r.fields["pages-4k"],
                name="kernel heap")
            add(int_field(r, "guard"), name="guard heap")
    return out


def diagram_log(chapter: str, kind: str = "address-space") -> str:
    """The kept log the chapter's ``{address-space}`` (or other ``kind`` of)
    diagram is drawn from (its ``:cmdline:`` and ``:memory:`` name the boot)."""
    readme = (REPO / "chapters" / chapter / "README.md").read_text(encoding="utf-8")
    [boot] = [boot for boot in bootlogs.boots_in_text(readme, (kind,)) if boot.chapter == chapter]
    return (BOOK_OUT / "logs" / f"{bootlogs.boot_log_name(*boot)}.log").read_text(encoding="utf-8")


@pytest.mark.parametrize("chapter", DIAGRAM_CHAPTERS)
def test_address_space_diagram_matches_its_boot_log(html_pages, chapter):
    """Every band's values and visible labels are the log's; every mapping the
    log reports has its band; bands run from high addresses (top) to low."""
    log = diagram_log(chapter)
    page = (HTML / "chapters" / f"{chapter}.html").read_text(encoding="utf-8")
    found = svgs(page, "address-space")
    assert len(found) == 1, f"{chapter}: {len(found)} address-space diagrams"
    bands = {g.get("data-start"): g for g in found[0].iter(SVG_NS + "g") if "as-region" in g.get("class", "")}
    expected = expected_regions(log)
    assert expected and sorted(bands) == sorted(expected), f"{chapter}: bands {sorted(bands)}, log {sorted(expected)}"
    for start, values in expected.items():
        band = bands[start]
        for key, value in values.items():
            drawn = band.get(f"data-{key}", "")
            assert drawn == value or (key == "flags" and drawn.startswith(value + ",")), \
                f"{chapter} band {start}: data-{key}={drawn!r}, log says {value!r}"
        labels = " ".join(svg_text(band))
        assert start in labels and values.get("end", start) in labels, f"{chapter} band {start}: {labels!r}"
        if "flags" in values:
            assert values["flags"] in labels, labels
        if "pages-4k" in values and values["pages-4k"] != "0":
            assert f"{values['pages-4k']} × 4KiB" in labels, labels
        # The tooltip is the log lines themselves.
        title = band.find(SVG_NS + "title").text
        assert all(line in log for line in title.splitlines()), title
    tops = [(int(g.get("data-start"), 16), float(g.find(SVG_NS + "rect").get("y"))) for g in bands.values()]
    ys = [y for _, y in sorted(tops)]
    assert ys == sorted(ys, reverse=True), f"{chapter}: bands are not in address order"
    caption = re.search(r'<figure class="kernelbook-diagram address-space.*?<figcaption>(.*?)</figcaption>', page, re.S)
    assert caption and f"make run CH={chapter}" in re.sub(r"<[^>]+>", "", caption[1]), caption


def test_page_walk_of_chapter_04_matches_its_check_line(html_pages):
    import harness
    from harness.log import int_field

    records = harness.parse_records(diagram_log("04-page-tables", "page-walk"))
    check = next(r for r in records if r.event == "check" and r.fields.get("what") == "kernel_main")
    va, pa = int_field(check, "va"), int_field(check, "pa")
    assert check.fields["page"] == "4KiB"
    page = (HTML / "chapters" / "04-page-tables.html").read_text(encoding="utf-8")
    found = svgs(page, "page-walk")
    assert len(found) == 1
    steps = {g.get("data-step"): g for g in found[0].iter(SVG_NS + "g") if g.get("data-step")}
    assert list(steps) == ["CR3", "PML4", "PDPT", "PD", "PT", "frame"]
    for name, shift in (("PML4", 39), ("PDPT", 30), ("PD", 21), ("PT", 12)):
        index = (va >> shift) & 511
        assert steps[name].get("data-index") == str(index), name
        assert f"[{index}] →" in " ".join(svg_text(steps[name])), name
    frame = steps["frame"]
    assert (frame.get("data-pa"), frame.get("data-frame"), frame.get("data-offset")) == \
        (f"{pa:#x}", f"{pa & ~0xfff:#x}", f"{va & 0xfff:#x}")
    assert f"pa {pa:#x}" in svg_text(frame)
    switched = next(r for r in records if r.event == "switched")
    assert steps["CR3"].get("data-value") == switched.fields["cr3"]
    assert f"virtual address {va:#018x} (kernel_main)".replace(" (", "  (") in svg_text(found[0])


def test_diagrams_render_in_chromium(rendered):
    """Each chapter page with a diagram, loaded in Chromium: every diagram is
    laid out with a real size, every label has a width, and no label runs out
    of its band or out of the drawing."""
    pages = [HTML / "chapters" / f"{c}.html" for c in DIAGRAM_CHAPTERS]
    result = {p.name: rendered[p.relative_to(HTML).as_posix()]["diagrams"] for p in pages}
    problems = []
    for name, items in result.items():
        kinds = sorted(i["kind"].split()[-1] for i in items)
        expected = ["address-space"] + (["page-walk"] if name.startswith(("04-", "16-")) else []) + \
            (["process-space"] if name[:-len(".html")] in PROCESS_CHAPTERS else [])
        assert kinds == sorted(expected), (name, kinds)
        for item in items:
            if item["width"] < 300 or item["height"] < 150 or item["texts"] < 10:
                problems.append(f"{name} {item['kind']}: rendered {item['width']}x{item['height']}, {item['texts']} labels")
            problems += [f"{name} {item['kind']}: {p}" for p in item["problems"]]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# {process-space}: one process's lower half beside the kernel's upper half
# ---------------------------------------------------------------------------

from kernelbook import process_model  # noqa: E402

# The chapters whose README draws a process ({process-space}), read from the READMEs.
PROCESS_CHAPTERS = [c for c in DIAGRAM_CHAPTERS
                    if (REPO / "chapters" / c / "README.md").is_file()
                    and bootlogs.boots_in_text((REPO / "chapters" / c / "README.md").read_text(encoding="utf-8"),
                                               ("process-space",))]


def expected_lower_half(log: str, pid: int) -> dict[tuple[str, str], dict[str, str]]:
    """What the process diagram must show of one process, read from its log
    with the tests' own parser: (kind, start) -> values. Its own lines only:
    after a fork, what a parent wrote is in its bands' cells, not their ranges."""
    from harness.log import int_field, size_field

    records = harness.parse_records(log)
    mine = [r for r in records if r.fields.get("pid") == str(pid)]
    out: dict[tuple[str, str], dict[str, str]] = {}
    [layout] = [r for r in records if r.subsystem == "user" and r.event == "layout"]
    out[("reserved", "0x0")] = {"end": layout.fields["lowest"]}
    out[("reserved", layout.fields["limit"])] = {"end": layout.fields["lower-half-end"]}
    usage = [r for r in mine if r.subsystem == "vm" and r.event == "usage"]
    unmapped = [(int_field(r, "start"), int_field(r, "start") + int_field(r, "length")) for r in mine if r.event == "munmap"]
    for r in mine:
        if r.subsystem == "user" and r.event == "segment":
            va = int_field(r, "va")
            out[("segment", f"{va:#x}")] = {"end": f"{va + 4096 * int_field(r, 'pages'):#x}", "rights": r.fields["rights"]}
        elif r.subsystem == "user" and r.event == "stack":
            va = int_field(r, "va")
            out[("stack", f"{va:#x}")] = {"end": f"{va + 4096 * int_field(r, 'pages'):#x}", "rights": r.fields["rights"]}
            out[("guard", r.fields["guard"])] = {"end": f"{va:#x}"}
        elif r.subsystem == "vm" and r.event == "region" and r.fields["kind"] == "stack":
            low = usage[-1].fields["stack-low"] if usage else r.fields["start"]
            out[("stack", low)] = {"end": r.fields["end"], "rights": r.fields["rights"]}
            limit = int_field(r, "grow-limit")
            out[("guard-gap", f"{limit - size_field(r, 'guard-gap'):#x}")] = {"end": r.fields["grow-limit"]}
            if limit < int(low, 16):
                out[("growth", r.fields["grow-limit"])] = {"end": low}
        elif r.subsystem == "vm" and r.event == "region":
            out[(r.fields["kind"], r.fields["start"])] = {"end": r.fields["end"], "rights": r.fields["rights"]}
        elif r.subsystem == "vm" and r.event == "mmap":
            start = int_field(r, "start")
            end = start + int_field(r, "length")
            gone = any(a <= start and end <= b for a, b in unmapped)
            out[("anonymous", f"{start:#x}")] = {"end": f"{end:#x}", "state": "unmapped" if gone else "mapped"}
    return out


@pytest.mark.parametrize("chapter", PROCESS_CHAPTERS)
def test_process_space_diagram_matches_its_boot_log(html_pages, chapter):
    """The process's bands are its log lines' (every region, the stack and
    what is kept empty below it, the reserved ends of the lower half); the
    kernel's bands summarise the {address-space} diagram of the same page,
    phase by phase; addresses fall from the top of the drawing to its bottom."""
    readme = (REPO / "chapters" / chapter / "README.md").read_text(encoding="utf-8")
    name = re.search(r"```\{process-space\} " + re.escape(chapter) + r"\n:name: (\S+)", readme)[1]
    log = diagram_log(chapter, "process-space")
    start = next(r for r in harness.parse_records(log) if r.event == "start" and r.fields.get("name") == name)
    page = (HTML / "chapters" / f"{chapter}.html").read_text(encoding="utf-8")
    [drawn] = svgs(page, "process-space")
    # The named process's column (a forked child's, beside it, is the fixture tests' to check).
    bands = {(g.get("data-kind"), g.get("data-start")): g for g in drawn.iter(SVG_NS + "g")
             if "ps-region" in g.get("class", "") and g.get("data-pid") in (None, start.fields["pid"])}
    expected = expected_lower_half(log, int(start.fields["pid"]))
    assert sorted(bands) == sorted(expected), f"{chapter}: bands {sorted(bands)}, log {sorted(expected)}"
    for key, values in expected.items():
        band = bands[key]
        for field, value in values.items():
            assert band.get(f"data-{field}") == value, f"{chapter} {key}: data-{field}={band.get(f'data-{field}')!r}, log {value!r}"
        labels = " ".join(svg_text(band))
        if key[0] != "reserved":
            assert f"{key[1]} – {values['end']}" in labels, labels
        assert all(line in log for line in band.find(SVG_NS + "title").text.splitlines())
    # The kernel's half: one band per phase of the address-space diagram, spanning its regions.
    [space] = svgs(page, "address-space")
    phases: dict[str, list[int]] = {}
    for g in space.iter(SVG_NS + "g"):
        if "as-region" in g.get("class", "") and g.get("data-removed") != "yes":
            start_va = int(g.get("data-start"), 16)
            end_va = int(g.get("data-end"), 16) if g.get("data-end") else start_va + 4096
            phases.setdefault(g.get("data-phase"), []).extend([start_va, end_va])
    kernel = {g.get("data-phase"): (g.get("data-start"), g.get("data-end")) for g in drawn.iter(SVG_NS + "g")
              if "ps-kernel" in g.get("class", "")}
    assert kernel == {phase: (f"{min(v):#x}", f"{max(v):#x}") for phase, v in phases.items()}
    # High addresses on top: every band's rectangle lies below the one for the next higher address.
    tops = sorted((int(g.get("data-start"), 16), float(g.find(SVG_NS + "rect").get("y")))
                  for g in list(bands.values()) + [g for g in drawn.iter(SVG_NS + "g") if "ps-kernel" in g.get("class", "")])
    ys = [y for _, y in tops]
    assert ys == sorted(ys, reverse=True), f"{chapter}: bands are not in address order"
    caption = re.search(r'<figure class="kernelbook-diagram process-space.*?<figcaption>(.*?)</figcaption>', page, re.S)
    assert caption and f"make run CH={chapter}" in re.sub(r"<[^>]+>", "", caption[1]), caption


# A parent that maps 4 pages, unmaps one, makes one read-only and forks; the
# child writes one page and grows its stack by one; the parent then takes a
# page over. The kernel's half: one phase, with the identity map removed.
PROCESS_LOG = textwrap.dedent("""\
    [INFO  paging] identity run start=0x1000 end=0x200000 bytes=2044KiB pages-4k=511 pages-2m=0 pages-1g=0 tables=3
    [INFO  paging] phase identity_map_low_memory ranges=1 runs=1 bytes=2044KiB pages-4k=511 pages-2m=0 pages-1g=0 tables=3 flags=P|RW|NX
    [INFO  paging] map section=text va=0xffffffff80001000 pa=0x400000 size=8KiB flags=P
    [INFO  paging] guard name=below-image va=0xffffffff80000000
    [INFO  paging] phase map_kernel_image sections=1 bytes=8KiB pages-4k=2 pages-2m=0 pages-1g=0 tables=3 guards=1
    [INFO  paging] identity map removed pml4-entries=1 tables-released=3
    [INFO  paging] phase share_kernel_half slots=256 present-before=1 tables=255 frames-from=bitmap
    [INFO  user] modules count=1
    [INFO  user] layout lowest=0x400000 limit=0x7ffffffff000 lower-half-end=0x800000000000
    [INFO  vm] region pid=1 start=0x400000 end=0x401000 rights=r-x kind=file
    [INFO  vm] region pid=1 start=0x7fffffefc000 end=0x7ffffff00000 rights=rw- kind=stack grow-limit=0x7fffffec0000 guard-gap=1MiB
    [INFO  user] start name=forker pid=1 entry=0x400000 pml4=0x10000 stack-top=0x7ffffff00000 pages=0 borrowed=0 tables=1 used-before=1
    [INFO  vm] mmap pid=1 name=forker start=0x1000000000 length=0x4000 prot=rw- fixed=no
    [INFO  vm] munmap pid=1 name=forker start=0x1000003000 length=0x1000 pages=1 tables=0 borrowed=0 invlpg=1
    [INFO  vm] mprotect pid=1 name=forker start=0x1000002000 length=0x1000 prot=r-- changed=1 invlpg=1
    [INFO  cow] fork pid=1 name=forker child=2 cow=3 shared-read-only=1 borrowed=1 child-tables=7 invlpg=3 child-pml4=0x20000 references=8
    [INFO  cow] copied pid=2 va=0x1000000000 from=0x30000 to=0x31000
    [INFO  vm] usage pid=2 name=forker faults=2 stack-low=0x7fffffefb000
    [INFO  user] exit pid=2 name=forker end=exit code=0
    [INFO  cow] taken-over pid=1 va=0x1000001000 frame=0x32000
    [INFO  user] exit pid=1 name=forker end=exit code=0
    [INFO  kernel] ready chapter=01-x
    """)

# Chapter 12's shape: segments and a stack with its guard page, mapped before the program runs.
PROCESS_LOG_12 = textwrap.dedent("""\
    [INFO  paging] map section=text va=0xffffffff80001000 pa=0x400000 size=8KiB flags=P
    [INFO  paging] phase map_kernel_image sections=1 bytes=8KiB pages-4k=2 pages-2m=0 pages-1g=0 tables=3 guards=0
    [INFO  paging] phase share_kernel_half slots=256 present-before=1 tables=255 frames-from=bitmap
    [INFO  user] layout lowest=0x400000 limit=0x7ffffffff000 lower-half-end=0x800000000000
    [INFO  user] segment pid=1 va=0x400000 pages=2 rights=r-x
    [INFO  user] stack pid=1 va=0x7fffffefc000 pages=4 rights=rw- guard=0x7fffffefb000
    [INFO  user] start name=hello pid=1 entry=0x400000 pml4=0x10000 stack-top=0x7ffffff00000 pages=5 borrowed=1 tables=7 used-before=1
    [INFO  user] exit pid=1 name=hello end=exit code=0
    """)


def _pieces(process) -> list[tuple]:
    return [(p.kind, hex(p.start), hex(p.end), p.rights, p.state, p.shared) for p in process.pieces]


def test_process_space_model_follows_the_log():
    space = process_model.process_space(diagram_model.parse_log(PROCESS_LOG), pids=[1, 2])
    parent, child = space.processes
    assert (parent.pid, child.pid, child.parent, child.name) == (1, 2, 1, "forker")
    assert _pieces(parent) == [
        ("file", "0x400000", "0x401000", "r-x", "mapped", "read-only"),
        ("anonymous", "0x1000000000", "0x1000002000", "rw-", "mapped", "copy-on-write"),
        ("anonymous", "0x1000002000", "0x1000003000", "r--", "mapped", "read-only"),
        ("anonymous", "0x1000003000", "0x1000004000", "rw-", "unmapped", ""),
        ("guard-gap", "0x7fffffdc0000", "0x7fffffec0000", "", "mapped", ""),
        ("growth", "0x7fffffec0000", "0x7fffffefc000", "", "mapped", ""),
        ("stack", "0x7fffffefc000", "0x7ffffff00000", "rw-", "mapped", "copy-on-write")]
    # The child never had the page unmapped before it was born; its stack grew by one.
    assert _pieces(child) == [
        ("file", "0x400000", "0x401000", "r-x", "mapped", "read-only"),
        ("anonymous", "0x1000000000", "0x1000002000", "rw-", "mapped", "copy-on-write"),
        ("anonymous", "0x1000002000", "0x1000003000", "r--", "mapped", "read-only"),
        ("guard-gap", "0x7fffffdc0000", "0x7fffffec0000", "", "mapped", ""),
        ("growth", "0x7fffffec0000", "0x7fffffefb000", "", "mapped", ""),
        ("stack", "0x7fffffefb000", "0x7ffffff00000", "rw-", "mapped", "copy-on-write")]
    assert parent.pieces[1].copied == {"taken-over": [0x1000001000]} and child.pieces[1].copied == {"copied": [0x1000000000]}
    assert parent.pieces[2].notes == ["mprotect: rw- → r--"]
    # The kernel's half: the image and its guard, not the removed identity map.
    assert [(b.phase, hex(b.start), hex(b.end), b.regions, b.guards) for b in space.kernel] == \
        [("map_kernel_image", "0xffffffff80000000", "0xffffffff80003000", 1, 1)]
    by_name = process_model.process_space(diagram_model.parse_log(PROCESS_LOG), name="forker", with_child=True)
    assert [p.pid for p in by_name.processes] == [1, 2] and by_name.fork.text == space.fork.text
    alone = process_model.process_space(diagram_model.parse_log(PROCESS_LOG), name="forker")
    assert [p.pid for p in alone.processes] == [1] and not alone.processes[0].pieces[1].shared
    twelve = process_model.process_space(diagram_model.parse_log(PROCESS_LOG_12), pids=[1])
    assert _pieces(twelve.processes[0]) == [
        ("segment", "0x400000", "0x402000", "r-x", "mapped", ""),
        ("guard", "0x7fffffefb000", "0x7fffffefc000", "", "mapped", ""),
        ("stack", "0x7fffffefc000", "0x7ffffff00000", "rw-", "mapped", "")]


# (log, the directive's choice, the refusal): a line missing or contradicting another.
PROCESS_REFUSALS = [
    (PROCESS_LOG.replace("[INFO  user] layout", "[INFO  user] laid-out"), {"name": "forker"},
     "the log has no '[INFO  user] layout lowest=… limit=… lower-half-end=…' line"),
    (PROCESS_LOG.replace("[INFO  paging] identity map removed", "[INFO  paging] identity map kept"), {"name": "forker"},
     "phase identity_map_low_memory maps below the upper half (0xffff800000000000) and is not removed"),
    (PROCESS_LOG.replace("[INFO  paging] phase share_kernel_half", "[INFO  paging] shared"), {"name": "forker"},
     "the log has no '[INFO  paging] phase share_kernel_half …' line"),
    (PROCESS_LOG.replace(" kind=stack", " kind=heap"), {"name": "forker"}, "pid 1 needs one region line with kind=stack"),
    (PROCESS_LOG.replace(" guard-gap=1MiB", ""), {"name": "forker"}, "field guard-gap= missing from log line"),
    (PROCESS_LOG.replace("start=0x1000002000 length=0x1000 prot=r--", "start=0x1000003000 length=0x1000 prot=r--"),
     {"name": "forker"}, "the log's regions do not hold all of [0x1000003000, 0x1000004000)"),
    (PROCESS_LOG.replace("start=0x1000000000 length=0x4000", "start=0x7fffffef0000 length=0x4000"), {"name": "forker"},
     "maps over the growth"),
    (PROCESS_LOG.replace("stack-low=0x7fffffefb000", "stack-low=0x7fffffeb0000"), {"pids": [2]},
     "stack-low=0x7fffffeb0000 lies outside the stack's room"),
    (PROCESS_LOG.replace("va=0x1000000000 from", "va=0x2000000000 from"), {"pids": [1, 2]},
     "pid 2 wrote a page no region of it holds"),
    (PROCESS_LOG, {"pids": [2, 1]}, "pid 1 is not a child of pid 2: the log has no '[INFO  cow] fork pid=2 … child=1' line"),
    (PROCESS_LOG.replace("[INFO  cow] fork", "[INFO  cow] forked"), {"pids": [2]},
     "pid 2 has neither a '[INFO  user] start' line nor a '[INFO  cow] fork … child=2' line"),
    (PROCESS_LOG, {"name": "nobody"}, "no '[INFO  user] start name=nobody …' line in the log (programs started: forker)"),
    (PROCESS_LOG, {"pids": [7]}, "no line of the log names pid=7"),
    (PROCESS_LOG_12, {"name": "hello", "with_child": True}, "pid 1 forked no child: the log has no '[INFO  cow] fork pid=1 …' line"),
    (PROCESS_LOG.replace("lower-half-end=0x800000000000", "lower-half-end=0x7ffffffff000"), {"name": "forker"},
     "lowest < limit < lower-half-end (a power of two) does not hold"),
    (PROCESS_LOG_12.replace("[INFO  user] stack", "[INFO  user] stacked"), {"name": "hello"},
     "pid 1 needs one '[INFO  user] stack pid=…' line, the log has 0"),
    (PROCESS_LOG_12.replace("stack-top=0x7ffffff00000", "stack-top=0x7ffffff01000"), {"name": "hello"},
     "va + pages × 4 KiB is not the start line's stack-top=0x7ffffff01000"),
    (PROCESS_LOG_12.replace("va=0x400000 pages=2", "va=0x200000 pages=2"), {"name": "hello"},
     "lies outside the lower half the layout line allows, [0x400000, 0x7ffffffff000)"),
]


@pytest.mark.parametrize("log, kwargs, message", PROCESS_REFUSALS, ids=[message[:60] for *_, message in PROCESS_REFUSALS])
def test_process_space_refuses_a_log_that_lacks_or_contradicts_a_line(log, kwargs, message):
    with pytest.raises(diagram_model.DiagramError, match=re.escape(message)):
        process_model.process_space(diagram_model.parse_log(log), **kwargs)


def test_process_space_in_a_fixture_book(tmp_path):
    book = _fixture_book(tmp_path, textwrap.dedent("""\
        # Chapter 01

        ```{process-space} 01-x
        :cmdline: fork
        :pids: 1 2
        ```
        """))
    (tmp_path / "chapters" / "01-x" / "kernel_main.cpp").write_text("void kernel_main() {}\n")
    (tmp_path / "logs" / "01-x+fork.log").write_text(PROCESS_LOG)
    done = _sphinx(book, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "out" / "chapters" / "01-x.html").read_text()
    [drawn] = svgs(page, "process-space")
    bands = [(g.get("data-pid"), g.get("data-kind"), g.get("data-start"), g.get("data-shared"))
             for g in drawn.iter(SVG_NS + "g") if "ps-region" in g.get("class", "") and g.get("data-pid")]
    assert ("1", "anonymous", "0x1000000000", "copy-on-write") in bands and ("2", "stack", "0x7fffffefb000", "copy-on-write") in bands
    assert ("1", "anonymous", "0x1000003000", None) in bands and not any(b[0] == "2" and b[2] == "0x1000003000" for b in bands)
    cells = {(c.get("data-va"), c.get("data-state")) for c in drawn.iter(SVG_NS + "rect") if c.get("class") == "ps-cell"}
    # The parent keeps the frame the child copied away from; the child shares the page the parent took over.
    assert {("0x1000000000", "copied"), ("0x1000000000", "copied-by-other"), ("0x1000001000", "taken-over"),
            ("0x1000001000", "shared")} <= cells
    labels = svg_text(drawn)
    assert "pid 2 · forker · forked from pid 1" in labels and "0x7ffffffff000" in labels and "0x800000000000" in labels
    assert any("non-canonical" in text for text in labels)
    [kernel] = [g for g in drawn.iter(SVG_NS + "g") if "ps-kernel" in g.get("class", "")]
    assert (kernel.get("data-start"), kernel.get("data-end")) == ("0xffffffff80000000", "0xffffffff80003000")


def test_a_missing_log_line_fails_the_process_diagram(tmp_path):
    book = _fixture_book(tmp_path, textwrap.dedent("""\
        # Chapter 01

        ```{process-space} 01-x
        :cmdline: no-layout
        :name: forker
        ```
        ```{process-space} 01-x
        :cmdline: no-layout
        ```
        ```{process-space} 01-x
        :cmdline: no-layout
        :pids: 1
        ```
        """))
    (tmp_path / "logs" / "01-x+no-layout.log").write_text(
        "\n".join(line for line in PROCESS_LOG.splitlines() if "[INFO  user] layout" not in line) + "\n")
    done = _sphinx(book, tmp_path / "out")
    assert done.returncode != 0
    for expected in (
        "process-space: 01-x+no-layout.log: the log has no '[INFO  user] layout lowest=… limit=… lower-half-end=…' line",
        "process-space: 01-x+no-layout.log: give exactly one of :name: PROGRAM, :pid: N or :pids: PARENT CHILD",
        "process-space: 01-x+no-layout.log: :pids: takes two pids, a parent and its child, not '1'",
    ):
        assert expected in done.stderr, f"{expected!r} not reported:\n{done.stderr}"


# The fixture's boot: one phase of each of two kinds, a guard, the switch and a check.
FIXTURE_LOG = textwrap.dedent("""\
    [INFO  paging] identity run start=0x1000 end=0x200000 bytes=2044KiB pages-4k=511 pages-2m=0 pages-1g=0 tables=3
    [INFO  paging] phase identity_map_low_memory ranges=1 runs=1 bytes=2044KiB pages-4k=511 pages-2m=0 pages-1g=0 tables=3 flags=P|RW|NX
    [INFO  paging] map section=text va=0xffffffff80001000 pa=0x400000 size=8KiB flags=P
    [INFO  paging] guard name=below-image va=0xffffffff80000000
    [INFO  paging] phase map_kernel_image sections=1 bytes=8KiB pages-4k=2 pages-2m=0 pages-1g=0 tables=3 guards=1
    [INFO  paging] check what=kernel_main va=0xffffffff80001234 present=yes pa=0x400234 page=4KiB flags=P
    [INFO  paging] check what=page-0 va=0x0 present=no pa=0x0 page=0B flags=-
    [INFO  paging] switched cr3=0x10f000
    [INFO  kernel] ready chapter=01-x
    """)


def test_diagrams_in_a_fixture_book(tmp_path):
    book = _fixture_book(tmp_path, textwrap.dedent("""\
        # Chapter 01

        ```{address-space} 01-x
        :cmdline: mapped
        ```

        ```{page-walk} 01-x
        :cmdline: mapped
        :check: kernel_main
        ```
        """))
    source = tmp_path / "chapters" / "01-x" / "kernel_main.cpp"
    source.write_text("void kernel_main() {}\n")
    (tmp_path / "logs" / "01-x+mapped.log").write_text(FIXTURE_LOG)
    done = _sphinx(book, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "out" / "chapters" / "01-x.html").read_text()
    [space] = svgs(page, "address-space")
    bands = [(g.get("data-name"), g.get("data-start"), g.get("data-end")) for g in space.iter(SVG_NS + "g")
             if "as-region" in g.get("class", "")]
    assert bands == [("identity map", "0x1000", "0x200000"), ("guard below-image", "0xffffffff80000000", None),
                     ("kernel .text", "0xffffffff80001000", "0xffffffff80003000")]
    labels = svg_text(space)
    assert "identity map · 2044 KiB · 511 × 4KiB" in labels
    assert "0xffffffff80001000 – 0xffffffff80003000 · P (r-x)" in labels
    assert "≈128 TiB not mapped · the non-canonical hole · ≈128 TiB not mapped" in labels
    [walk] = svgs(page, "page-walk")
    assert [g.get("data-index") for g in walk.iter(SVG_NS + "g") if g.get("data-index")] == ["511", "510", "0", "1"]
    assert "pa 0x400234" in svg_text(walk) and "0x10f000" in svg_text(walk)


def test_a_missing_log_line_fails_the_diagram(tmp_path):
    book = _fixture_book(tmp_path, textwrap.dedent("""\
        # Chapter 01

        ```{address-space} 01-x
        :cmdline: short
        ```
        ```{address-space} 01-x
        ```
        ```{address-space} 01-x
        :cmdline: never-booted
        ```
        ```{page-walk} 01-x
        :cmdline: short
        :check: kernel_main
        ```
        ```{page-walk} 01-x
        :cmdline: short
        :check: page-0
        ```
        """))
    # The phase says two sections; one `map section=` line is gone, and so is
    # the check line the walk is drawn from.
    short = FIXTURE_LOG.replace("sections=1", "sections=2").replace("[INFO  paging] check what=kernel_main", "[INFO  paging] checked what=kernel_main")
    (tmp_path / "logs" / "01-x+short.log").write_text(short)
    done = _sphinx(book, tmp_path / "out")
    assert done.returncode != 0
    for expected in (
        "address-space: 01-x+short.log: '[INFO  paging] phase map_kernel_image sections=2 bytes=8KiB pages-4k=2 "
        "pages-2m=0 pages-1g=0 tables=3 guards=1' says sections=2, but the log has 1 [paging] map section= line(s)",
        "address-space: 01-x.log: the log has no '[INFO  paging] phase …' line: no address space to draw",
        "address-space: ", "01-x+never-booted.log was not captured",
        "page-walk: 01-x+short.log: no '[INFO  paging] check what=kernel_main' line in the log (checks logged: page-0)",
        "page-walk: 01-x+short.log: the log reports no translation for this address (present=no)",
    ):
        assert expected in done.stderr, f"{expected!r} not reported:\n{done.stderr}"


def test_address_space_model_checks_the_phase_totals():
    records = diagram_model.parse_log(FIXTURE_LOG)
    space = diagram_model.address_space(records)
    assert [r.name for r in space.regions] == ["identity map", "guard below-image", "kernel .text"]
    assert space.regions[2].pages == {"4KiB": 2} and space.cr3 == "0x10f000"
    for broken, message in (
        (FIXTURE_LOG.replace("runs=1 bytes=2044KiB", "runs=1 bytes=2048KiB"), "its run lines add up to 2044 KiB"),
        (FIXTURE_LOG.replace("guards=1", "guards=2"), "says guards=2, but the log has 1 [paging] guard line(s)"),
        (FIXTURE_LOG.replace("phase map_kernel_image", "phase map_heap"), "phase map_heap is not known"),
        (FIXTURE_LOG.replace("va=0xffffffff80001000", "va=0x2000"), "overlaps kernel .text"),
    ):
        with pytest.raises(diagram_model.DiagramError, match=re.escape(message)):
            diagram_model.address_space(diagram_model.parse_log(broken))
    removed = diagram_model.address_space(diagram_model.parse_log(
        FIXTURE_LOG + "[INFO  paging] identity map removed pml4-entries=1 tables-released=3\n"))
    assert [bool(r.removed) for r in removed.regions] == [True, False, False]


def test_page_walk_refuses_a_walk_the_log_contradicts():
    bad = FIXTURE_LOG.replace("pa=0x400234", "pa=0x400235")
    with pytest.raises(diagram_model.DiagramError, match="va and pa differ inside the 4KiB page"):
        diagram_model.page_walk(diagram_model.parse_log(bad), check="kernel_main")
    walk = diagram_model.page_walk(diagram_model.parse_log(FIXTURE_LOG.replace("pa=0x400234 page=4KiB flags=P\n", "pa=0x401234 page=2MiB flags=P|PS\n")),
                              check="kernel_main")
    assert [name for name, _ in walk.indices] == ["PML4", "PDPT", "PD"] and walk.offset == 0x1234
    assert walk.frame == 0x400000
