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
      for (const g of svg.querySelectorAll("g.as-region")) {
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
    diagrams_text = "```{address-space} 05-paging\n```\n```{page-walk} 04-page-tables\n:check: kernel_main\n:cmdline: test.remap\n```\n"
    assert bootlogs.boots_in_text(diagrams_text) == [("05-paging", "", ""), ("04-page-tables", "test.remap", "")]
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
        assert kinds == (["address-space", "page-walk"] if name.startswith("04-") else ["address-space"]), (name, kinds)
        for item in items:
            if item["width"] < 300 or item["height"] < 150 or item["texts"] < 10:
                problems.append(f"{name} {item['kind']}: rendered {item['width']}x{item['height']}, {item['texts']} labels")
            problems += [f"{name} {item['kind']}: {p}" for p in item["problems"]]
    assert not problems, "\n".join(problems)


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
