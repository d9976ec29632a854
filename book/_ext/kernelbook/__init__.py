"""Sphinx extension for the tutorial's book: everything a page shows of the
code, of a boot, or of a chapter's changes is read from the repository or from
a real boot at build time.

Directives (MyST syntax shown)::

    ```{excerpt} common/boot/final_memory_map.cpp exit-boot-services
    (the excerpt, copied by make sync-docs)
    ```
    ```{bootlog} 01-boot
    :match: \\[INFO  (loader|kernel)\\]
    :cmdline: loader.dump-map
    :max: 12

    (the log lines, copied by make sync-docs)
    ```
    ```{chapter-sources} 01-boot
    ```
    ```{address-space} 05-paging
    ```
    ```{page-walk} 04-page-tables
    :check: kernel_main
    ```
    ```{process-space} 13-demand-paging
    :name: sparse
    ```
    ```{log-formats}
    ```
    ```{command-line-options}
    ```

Role: ``{src}`common/boot/main.cpp``` links to the book's copy of a source file
(also ``{src}`main.cpp <common/boot/main.cpp>```). Markdown links to repository
files (``[main.cpp](../../common/boot/main.cpp)``, as a chapter README writes
them for GitHub) are turned into the same links.

Everything that can go stale fails the build (run with -W): a marker the book
names but the code lacks, unbalanced markers, a marker no page uses, a boot-log
pattern that matches nothing, a chapter without a book page, a link to a file
that does not exist, a diagram whose boot log lacks a line it is drawn from,
an excerpt or boot log whose inline copy in the README differs from what the
page renders, a ``<!-- log … -->`` value the boot no longer logs (quotes.py).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, SphinxRole

from . import diagram_model, diagram_svg, layout, markers, process_model, process_svg, quotes, sources
from .bootlogs import Boot, boot_log_name, make_run_command

logger = logging.getLogger(__name__)

SOURCE_PAGE_PREFIX = "src/"
_LANGUAGES = {
    ".cpp": "cpp", ".h": "cpp", ".hpp": "cpp", ".S": "kernel-gas", ".s": "kernel-gas", ".ld": "none",
    ".mk": "make", ".py": "python", ".sh": "bash", ".md": "markdown", ".txt": "none",
}


def _gas_lexer_class():
    """GNU as, AT&T syntax, plus the numeric local labels (``1:``) that
    Pygments' GasLexer rejects."""
    from pygments.lexer import inherit
    from pygments.lexers.asm import GasLexer
    from pygments.token import Name

    class KernelGasLexer(GasLexer):
        name = "GNU as with local labels"
        aliases = ["kernel-gas"]
        tokens = {"root": [(r"\d+:", Name.Label), inherit]}

    return KernelGasLexer


def get_lexer(language: str):
    from pygments.lexers import get_lexer_by_name

    if language == "kernel-gas":
        return _gas_lexer_class()()
    return get_lexer_by_name("text" if language == "none" else language)


def language_for(path: str) -> str:
    name = Path(path).name
    if name == "Makefile":
        return "make"
    return _LANGUAGES.get(Path(path).suffix, "none")


# ---------------------------------------------------------------------------
# Per-build state
# ---------------------------------------------------------------------------


def repo_root(env) -> Path:
    return Path(env.config.book_repo_root).resolve()


def _state(env):
    if not hasattr(env, "kernelbook_markers"):
        env.kernelbook_markers = {}  # docname -> set of (path, name) used
    if not hasattr(env, "kernelbook_files"):
        env.kernelbook_files = {}    # docname -> set of repository paths linked
    return env


def _marker_scan(env) -> markers.MarkerScan:
    scan = getattr(env, "_kernelbook_scan", None)
    if scan is None:
        scan = markers.scan_tree(repo_root(env), env.config.book_excerpt_roots)
        env._kernelbook_scan = scan
    return scan


def note_file(env, path: str) -> None:
    _state(env).kernelbook_files.setdefault(env.docname, set()).add(path)
    env.note_dependency(str(repo_root(env) / path))


# ---------------------------------------------------------------------------
# Links to source files
# ---------------------------------------------------------------------------


class source_ref(nodes.Inline, nodes.TextElement):
    """A link to the book's page for a repository file; resolved per builder."""


def make_source_ref(env, path: str, text: str, line: int | None = None, literal: bool = True) -> nodes.Node:
    note_file(env, path)
    node = source_ref("", "", path=path, line=line)
    node += nodes.literal(text, text) if literal else nodes.Text(text)
    return node


def check_repo_file(env, path: str, location) -> str | None:
    """``path`` normalised if it names a file in the repository; warns otherwise."""
    root = repo_root(env)
    full = (root / path).resolve()
    if not full.is_relative_to(root) or not full.is_file():
        logger.warning(f"no such file in the repository: {path}", location=location, type="kernelbook", subtype="file")
        return None
    return full.relative_to(root).as_posix()


class SourceRole(SphinxRole):
    """``{src}`path``` or ``{src}`text <path>```; ``path#L12`` links to a line."""

    def run(self):
        match = re.match(r"^(.*?)\s*<([^<>]+)>$", self.text, re.S)
        text, target = (match[1], match[2]) if match else (self.text, self.text)
        target, _, anchor = target.partition("#L")
        path = check_repo_file(self.env, target, self.get_location())
        if path is None:
            return [nodes.literal(text, text)], []
        return [make_source_ref(self.env, path, text, int(anchor) if anchor.isdigit() else None)], []


class RepositoryLinks(SphinxTransform):
    """Markdown links to repository files become links to the book's source pages;
    links to a chapter's README become links to that chapter's book page. A
    link is read relative to the file it is written in, so a chapter README's
    links work both on a repository host and in the book.

    MyST turns ``[text](../../common/boot/main.cpp)`` into a download reference
    (an existing file) or a pending cross-reference (anything else); both are
    caught here, before Sphinx collects downloads."""

    default_priority = 100

    def apply(self, **kwargs):
        root = repo_root(self.env)
        docdir = Path(self.env.doc2path(self.env.docname)).parent
        for node in list(self.document.findall(addnodes.download_reference)) + [
            n for n in self.document.findall(addnodes.pending_xref) if n.get("reftype") == "myst"
        ]:
            target = node.get("reftarget", "")
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path_part, _, fragment = target.partition("#")
            # Relative to the Markdown file the link is written in: for an
            # included chapter README that is the chapter's folder, not book/.
            source = getattr(node, "source", None)
            base = Path(source).parent if source and Path(source).is_absolute() else docdir
            full = (base / path_part).resolve()
            srcdir = Path(self.env.srcdir).resolve()
            if not full.is_relative_to(root):
                continue
            rel = full.relative_to(root).as_posix()
            chapter = re.fullmatch(r"chapters/([^/]+)/README\.md", rel)
            # A README's link to a book page (../../book/reference/x.md) is read
            # from the README's folder, which MyST does not know: resolve it here.
            book_page = full.is_relative_to(srcdir) and full.suffix == ".md" and base != docdir
            if full.is_relative_to(srcdir) and not book_page:
                continue
            if chapter or book_page:
                page = f"chapters/{chapter[1]}" if chapter else full.relative_to(srcdir).with_suffix("").as_posix()
                xref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget="/" + page,
                                             refexplicit=True, refwarn=True, refdoc=self.env.docname)
                xref += node.children
                node.replace_self(xref)
                continue
            if not full.is_file():
                continue  # leave it to MyST, which reports it
            line = int(fragment[1:]) if re.fullmatch(r"L\d+", fragment) else None
            ref = source_ref("", "", path=rel, line=line)
            ref += node.children
            note_file(self.env, rel)
            node.replace_self(ref)


def resolve_source_refs(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(source_ref)):
        if app.builder.format != "html":
            node.replace_self(node.children)
            continue
        uri = app.builder.get_relative_uri(docname, SOURCE_PAGE_PREFIX + node["path"])
        if node.get("line"):
            uri += f"#L-{node['line']}"
        ref = nodes.reference("", "", internal=True, refuri=uri, classes=["source-link"])
        ref += node.children
        node.replace_self(ref)


def source_pages(app: Sphinx):
    """One highlighted page per repository file the book links to, with line
    anchors ``#L-12``: the book needs no network and no repository host."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    env = _state(app.env)
    root = repo_root(env)
    paths = sorted(set().union(*env.kernelbook_files.values())) if env.kernelbook_files else []
    for path in paths:
        text = (root / path).read_text(encoding="utf-8")
        language = language_for(path)
        lexer = get_lexer(language)
        formatter = HtmlFormatter(linenos="table", lineanchors="L", anchorlinenos=True, cssclass="highlight")
        body = f"<h1><code>{html.escape(path)}</code></h1>\n" + highlight(text, lexer, formatter)
        yield SOURCE_PAGE_PREFIX + path, {"title": path, "body": body}, "page.html"


# ---------------------------------------------------------------------------
# {excerpt}
# ---------------------------------------------------------------------------


def _captioned(caption_nodes: list[nodes.Node], block: nodes.Element) -> nodes.container:
    container = nodes.container("", literal_block=True, classes=["literal-block-wrapper"])
    caption = nodes.caption("", "")
    caption.extend(caption_nodes)
    container += caption
    container += block
    return container


def check_inline_copy(directive: SphinxDirective, expected: list[str], source: str) -> None:
    """The block's body is the README's copy of what the page renders (for
    readers without a build); warn when it differs. An empty body is allowed
    only where ``book_require_inline_copies`` is off (the tests' fixture books)."""
    copy = list(directive.content)
    if not copy and not directive.config.book_require_inline_copies:
        return
    problem = quotes.difference(expected, copy, source)
    if problem:
        logger.warning(f"{directive.name} {' '.join(directive.arguments)}: {problem}: {quotes.SYNC_HINT}",
                       location=directive.get_location(), type="kernelbook", subtype="inline")


class ExcerptDirective(SphinxDirective):
    """``{excerpt} PATH NAME``: the code between ``book:begin NAME`` and
    ``book:end NAME`` in PATH (relative to the repository root). The body is
    the README's copy of it (``make sync-docs``)."""

    required_arguments = 2
    has_content = True
    option_spec = {"language": directives.unchanged, "caption": directives.unchanged}

    def run(self):
        path, name = self.arguments
        _state(self.env).kernelbook_markers.setdefault(self.env.docname, set()).add((path, name))
        try:
            excerpt = quotes.excerpt(repo_root(self.env), _marker_scan(self.env), path, name)
        except quotes.QuoteError as error:
            logger.warning(f"excerpt: {error}", location=self.get_location(), type="kernelbook", subtype="marker")
            return []
        check_inline_copy(self, excerpt.code.splitlines(), f"{path} ({name})")
        code, first, last = excerpt.code, excerpt.first, excerpt.last
        block = nodes.literal_block(code, code)
        block["language"] = self.options.get("language", language_for(path))
        block["linenos"] = True
        block["highlight_args"] = {"linenostart": first}
        self.set_source_info(block)
        caption = [make_source_ref(self.env, path, path, first),
                   nodes.Text(f", lines {first}–{last}" + (f": {self.options['caption']}" if "caption" in self.options else ""))]
        return [_captioned(caption, block)]


# ---------------------------------------------------------------------------
# {bootlog}
# ---------------------------------------------------------------------------


class BootLogDirective(SphinxDirective):
    """``{bootlog} CHAPTER``: log lines of a real boot of CHAPTER, captured by
    ``make book`` (scripts/book/capture_logs.py). Options: ``:cmdline:`` the
    boot's command line (default empty); ``:memory:`` its RAM in QEMU's ``-m``
    syntax (default: ``make run``'s); ``:match:`` a regular expression a
    line must contain (default: every log line); ``:max:`` at most this many
    lines. A pattern that matches nothing is an error. The body, after the
    options, is the README's copy of those lines (``make sync-docs``)."""

    required_arguments = 1
    has_content = True
    option_spec = {"match": directives.unchanged, "cmdline": directives.unchanged,
                   "memory": directives.unchanged, "max": directives.positive_int}

    def run(self):
        chapter = self.arguments[0]
        cmdline = " ".join(self.options.get("cmdline", "").split())
        memory = self.options.get("memory", "").strip()
        try:
            boot = quotes.bootlog(Path(self.env.config.book_logs_dir), Boot(chapter, cmdline, memory),
                                  self.options.get("match"), self.options.get("max"))
        except quotes.QuoteError as error:
            logger.warning(f"bootlog: {error}", location=self.get_location(), type="kernelbook", subtype="bootlog")
            return []
        self.env.note_dependency(str(boot.path))
        check_inline_copy(self, boot.lines, boot.path.name)
        meta, text = boot.meta, "\n".join(boot.lines)
        block = nodes.literal_block(text, text, language="none", classes=["boot-log"])
        self.set_source_info(block)
        described = make_run_command(chapter, cmdline, memory)
        caption = [nodes.Text("Captured by the book build from a real boot: "), nodes.literal(described, described)]
        if meta.get("outcome"):
            caption.append(nodes.Text(f" (outcome: {meta['outcome']})"))
        return [_captioned(caption, block)]


# ---------------------------------------------------------------------------
# {address-space}, {page-walk} and {process-space}: SVG drawn from a captured boot log
# ---------------------------------------------------------------------------


class _DiagramDirective(SphinxDirective):
    """Reads the captured log of ``CHAPTER`` (``:cmdline:`` and ``:memory:`` as
    for ``{bootlog}``) and draws an inline SVG from it: book/_ext/kernelbook/
    diagram_model.py reads the log, diagram_svg.py draws. A log line the
    diagram needs but cannot find fails the build."""

    required_arguments = 1
    has_content = False
    option_spec = {"cmdline": directives.unchanged, "memory": directives.unchanged, "caption": directives.unchanged}
    name = ""

    def warn(self, message: str) -> list[nodes.Node]:
        logger.warning(f"{self.name}: {message}", location=self.get_location(), type="kernelbook", subtype="diagram")
        return []

    def run(self):
        chapter = self.arguments[0]
        cmdline = " ".join(self.options.get("cmdline", "").split())
        memory = self.options.get("memory", "").strip()
        log = Path(self.env.config.book_logs_dir) / f"{boot_log_name(chapter, cmdline, memory)}.log"
        if not log.is_file():
            return self.warn(f"{log} was not captured (make book captures every boot a page names)")
        self.env.note_dependency(str(log))
        records = diagram_model.parse_log(log.read_text(encoding="utf-8"))
        described = make_run_command(chapter, cmdline, memory)
        uid = f"kb-{self.name}-{self.env.new_serialno('kernelbook-diagram')}"
        try:
            svg, lead = self.draw(records, described, uid)
        except diagram_model.DiagramError as error:
            return self.warn(f"{log.name}: {error}")
        figure = nodes.figure(classes=["kernelbook-diagram", self.name])
        figure += nodes.raw("", svg, format="html")
        caption = nodes.caption("", "")
        caption += nodes.Text(lead + ", drawn by the book build from the log of a real boot: ")
        caption += nodes.literal(described, described)
        if "caption" in self.options:
            caption += nodes.Text(". " + self.options["caption"])
        figure += caption
        self.set_source_info(figure)
        return [figure]

    def draw(self, records, described: str, uid: str) -> tuple[str, str]:
        raise NotImplementedError


class AddressSpaceDirective(_DiagramDirective):
    """``{address-space} CHAPTER``: one band per region the mapping phases of
    the boot report (``[paging] phase …`` and their ``identity run``,
    ``map section=``, ``guard``, ``window run``, ``[mmio] map …`` lines), in
    address order, with size, flags and page counts."""

    name = "address-space"

    def draw(self, records, described, uid):
        space = diagram_model.address_space(records)
        title = f"The kernel's virtual address space after {described}: " + \
                ", ".join(f"{r.name} {r.start:#x}" for r in space.regions if r.kind != "guard")
        return diagram_svg.address_space_svg(space, title, uid), "The virtual address space, high addresses at the top"


class PageWalkDirective(_DiagramDirective):
    """``{page-walk} CHAPTER``: CR3 → PML4 → PDPT → PD → PT → page for one
    translation the log reports: ``:check: NAME`` picks the ``[paging] check
    what=NAME`` line; ``:match: REGEX`` the first line matching it that has
    ``va=``, ``pa=`` and ``page=`` fields."""

    name = "page-walk"
    option_spec = {**_DiagramDirective.option_spec, "check": directives.unchanged_required,
                   "match": directives.unchanged_required}

    def draw(self, records, described, uid):
        if ("check" in self.options) == ("match" in self.options):
            raise diagram_model.DiagramError("give exactly one of :check: NAME or :match: REGEX")
        try:
            walk = diagram_model.page_walk(records, check=self.options.get("check"), match=self.options.get("match"))
        except re.error as error:
            raise diagram_model.DiagramError(f"bad :match: pattern: {error}") from None
        title = f"Page walk of {walk.va:#x} ({walk.label or 'from the log'}) to pa {walk.pa:#x}"
        return diagram_svg.page_walk_svg(walk, title, uid), f"The {walk.levels}-level walk of {walk.va:#x}" + \
            (f" ({walk.label})" if walk.label else "") + f", indices cut from the address, pa {walk.pa:#x} from the log"


class ProcessSpaceDirective(_DiagramDirective):
    """``{process-space} CHAPTER``: one process's address space, its lower
    half (the regions the log gives it, and what the kernel keeps empty)
    beside the kernel's upper half, summarised one band per phase.
    ``:name: PROGRAM`` picks the first program started with that name,
    ``:pid: N`` a process by pid, ``:pids: PARENT CHILD`` a parent and the
    child it forked, side by side, their shared regions marked;
    ``:with-child:`` (beside ``:name:`` or ``:pid:``) adds the first child the
    chosen process forked, whatever its pid."""

    name = "process-space"
    option_spec = {**_DiagramDirective.option_spec, "name": directives.unchanged_required,
                   "pid": directives.nonnegative_int, "pids": directives.unchanged_required,
                   "with-child": directives.flag}

    def draw(self, records, described, uid):
        chosen = [key for key in ("name", "pid", "pids") if key in self.options]
        if len(chosen) != 1:
            raise diagram_model.DiagramError("give exactly one of :name: PROGRAM, :pid: N or :pids: PARENT CHILD")
        pids = None
        if "pid" in self.options:
            pids = [self.options["pid"]]
        elif "pids" in self.options:
            words = self.options["pids"].split()
            if len(words) != 2 or not all(w.isdigit() for w in words):
                raise diagram_model.DiagramError(f":pids: takes two pids, a parent and its child, not {self.options['pids']!r}")
            pids = [int(w) for w in words]
        space = process_model.process_space(records, name=self.options.get("name"), pids=pids,
                                            with_child="with-child" in self.options)
        who = " and ".join(f"pid {p.pid} ({p.name})" for p in space.processes)
        title = f"The address space of {who} after {described}: " + ", ".join(
            f"{p.kind} {p.start:#x}" for pr in space.processes for p in pr.pieces)
        lead = f"The address space of {who}: its lower half beside the kernel's upper half, high addresses at the top"
        return process_svg.process_space_svg(space, title, uid), lead


# ---------------------------------------------------------------------------
# {chapter-sources}
# ---------------------------------------------------------------------------


def _bullets(env, paths: list[str]) -> nodes.bullet_list:
    items = nodes.bullet_list()
    for path in paths:
        para = nodes.paragraph()
        para += make_source_ref(env, path, path)
        items += nodes.list_item("", para)
    return items


class ChapterSourcesDirective(SphinxDirective):
    """``{chapter-sources} CHAPTER``: for the first chapter, every file its
    kernel and the loader are built from; for later chapters, the diff since
    the chapter it builds on (``CHAPTER_BASE`` in its ``chapter.mk``), folded:
    in view, the files it adds, changes and removes with their line counts;
    opened, one diff per file. Fault injection (a chapter's ``*_injection*``
    or ``bad_*`` test-hook files, see :func:`sources.is_test_hook`) is left out
    of the diff: it lives beside the story, and a chapter need not carry the
    test hooks of the one it builds on."""

    required_arguments = 1
    has_content = False

    def run(self):
        root = repo_root(self.env)
        build = Path(self.env.config.book_build_dir)
        chapter = self.arguments[0]
        names = sources.chapter_names(root)
        if chapter not in names:
            logger.warning(f"chapter-sources: unknown chapter {chapter!r} (chapters: {', '.join(names)})",
                           location=self.get_location(), type="kernelbook", subtype="chapter")
            return []
        for dep in list((build / chapter / "obj").glob("*.d")) + list((build / "loader").glob("*.d")):
            self.env.note_dependency(str(dep))
        try:
            index = names.index(chapter)
            if index == 0:
                kernel = sources.chapter_files(root, build, chapter)
                loader = sources.loader_files(root, build)
                intro1 = nodes.paragraph("", f"The kernel of {chapter} is built from these files "
                                             "(the chapter's folder, the sources and every header the compiler read):")
                intro2 = nodes.paragraph("", "The loader, BOOTX64.EFI, is the same for every chapter:")
                return [intro1, _bullets(self.env, kernel), intro2, _bullets(self.env, loader)]
            previous = sources.chapter_base(root, chapter)
            if previous not in names[:index]:
                logger.warning(f"chapter-sources: CHAPTER_BASE {previous!r} of {chapter} is not a chapter before it",
                               location=self.get_location(), type="kernelbook", subtype="chapter")
                return []
            diff = sources.chapter_diff(root, build, previous, chapter)
        except sources.MissingBuild as error:
            logger.warning(f"chapter-sources: {error}", location=self.get_location(), type="kernelbook", subtype="build")
            return []
        lead = f"What {chapter} changes, compared with {diff.previous}"
        if not diff.files:
            return [nodes.paragraph("", f"{lead}: no code changes.")]
        return [self._folded_diff(lead, diff.files)]

    def _folded_diff(self, lead: str, files: list[sources.FileDiff]) -> layout.details:
        """The diff folded in a ``<details>``: its ``<summary>``, in view, lists
        every file with its status and its +added −removed line counts; the
        diff itself, one captioned block per file, shows when it is opened."""
        added, removed = sum(f.added for f in files), sum(f.removed for f in files)
        folded = layout.details(classes=["chapter-diff"])
        head = layout.summary(classes=["chapter-diff-summary"])
        head += nodes.inline("", f"{lead}: {len(files)} file{'s' if len(files) != 1 else ''}, ", classes=["chapter-diff-lead"])
        head[-1] += _line_counts(added, removed)
        head[-1] += nodes.Text(" lines. Open for the diff.")
        for file in files:
            row = nodes.inline(classes=["chapter-diff-file"])
            row += nodes.inline("", file.status, classes=["chapter-diff-status", file.status])
            row += nodes.Text(" ")
            row += make_source_ref(self.env, file.path, file.path)
            row += nodes.Text(" ")
            row += _line_counts(file.added, file.removed)
            head += row
        folded += head
        for file in files:
            block = nodes.literal_block(file.text, file.text, language="diff")
            self.set_source_info(block)
            caption = [nodes.Text(f"{file.status}: "), make_source_ref(self.env, file.path, file.path), nodes.Text(" ")]
            folded += _captioned(caption + [_line_counts(file.added, file.removed)], block)
        return folded


def _line_counts(added: int, removed: int) -> nodes.inline:
    counts = nodes.inline(classes=["chapter-diff-counts"])
    counts += nodes.inline("", f"+{added:,}", classes=["chapter-diff-added"])
    counts += nodes.Text(" ")
    counts += nodes.inline("", f"\u2212{removed:,}", classes=["chapter-diff-removed"])
    return counts


# ---------------------------------------------------------------------------
# Generated reference tables
# ---------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[nodes.Node]]) -> nodes.table:
    table = nodes.table(classes=["kernelbook-index"])
    group = nodes.tgroup(cols=len(header))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in header)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for title in header:
        row += nodes.entry("", nodes.paragraph("", title))
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell if isinstance(cell, nodes.paragraph) else nodes.paragraph("", "", cell)
            row += entry
        body += row
    return table


def _where(env, uses: list[tuple[str, int]]) -> nodes.paragraph:
    para = nodes.paragraph()
    for i, (path, line) in enumerate(uses):
        if i:
            para += nodes.Text(", ")
        para += make_source_ref(env, path, f"{path}:{line}", line)
    return para


class LogFormatsDirective(SphinxDirective):
    """``{log-formats}``: every log line the loader and kernels can print, read
    from the ``klog`` calls in the sources."""

    def run(self):
        root = repo_root(self.env)
        formats = sources.log_formats(root, self.env.config.book_source_roots, ("common/include/support/log.h",))
        for file in sources.cpp_files(root, self.env.config.book_source_roots):
            self.env.note_dependency(str(file))
        rows = [[nodes.literal(f.shape, f.shape), nodes.Text(f.level), _where(self.env, [(f.path, f.line)])]
                for f in formats]
        return [_table(["line", "level", "printed by"], rows)]


class CommandLineOptionsDirective(SphinxDirective):
    """``{command-line-options}``: every option read with ``command_line().has()``
    or ``.value()``, with the values the code compares it to, and what it does.

    The body says what each option does, one ``name: text`` line per option
    (a line starting with blanks continues the one above). An option the code
    reads without a line here, or a line for an option no code reads, fails
    the build: the table can neither go stale nor leave an option unexplained."""

    has_content = True

    def descriptions(self) -> dict[str, str]:
        described: dict[str, str] = {}
        name = None
        for line in self.content:
            if not line.strip():
                continue
            if line[0].isspace() and name:
                described[name] += " " + line.strip()
            else:
                name, _, text = line.partition(":")
                name = name.strip()
                described[name] = text.strip()
        return described

    def run(self):
        root = repo_root(self.env)
        options = sources.command_line_options(root, self.env.config.book_source_roots)
        for file in sources.cpp_files(root, self.env.config.book_source_roots):
            self.env.note_dependency(str(file))
        described = self.descriptions()
        for name in sorted({o.name for o in options} - set(described)):
            logger.warning(f"command-line-options: the code reads {name!r} but the page does not say what it does",
                           location=self.get_location(), type="kernelbook", subtype="option")
        for name in sorted(set(described) - {o.name for o in options}):
            logger.warning(f"command-line-options: {name!r} is described but no code reads it",
                           location=self.get_location(), type="kernelbook", subtype="option")
        rows = []
        for o in options:
            shown = o.name if o.form == "flag" else f"{o.name}=…"
            values = ", ".join(o.values) if o.values else "—"
            what = self.parse_inline(described.get(o.name, ""))
            rows.append([nodes.literal(shown, shown), what, nodes.Text(values), _where(self.env, o.uses)])
        return [_table(["option", "what it does", "values the code knows", "read in"], rows)]

    def parse_inline(self, text: str) -> nodes.paragraph:
        """The description with its inline Markdown (code spans) rendered."""
        paragraph = nodes.paragraph()
        for index, part in enumerate(text.split("`")):
            if part:
                paragraph += nodes.literal(part, part) if index % 2 else nodes.Text(part)
        return paragraph


# ---------------------------------------------------------------------------
# Consistency checks over the whole book
# ---------------------------------------------------------------------------


def purge_doc(app, env, docname):
    _state(env)
    env.kernelbook_markers.pop(docname, None)
    env.kernelbook_files.pop(docname, None)


def merge_info(app, env, docnames, other):
    _state(env)
    for docname in docnames:
        if docname in getattr(other, "kernelbook_markers", {}):
            env.kernelbook_markers[docname] = other.kernelbook_markers[docname]
        if docname in getattr(other, "kernelbook_files", {}):
            env.kernelbook_files[docname] = other.kernelbook_files[docname]


def committed_chapters(root: Path) -> list[str]:
    """Chapters whose kernel_main.cpp git knows: a chapter folder still being
    written in a shared working tree needs no page until it is committed. Outside
    a git checkout, every chapter folder counts."""
    import subprocess

    names = sources.chapter_names(root)
    try:
        tracked = subprocess.run(["git", "-C", str(root), "ls-files", "chapters/*/kernel_main.cpp"],
                                 capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return names
    tracked_names = {Path(p).parent.name for p in tracked}
    return [n for n in names if n in tracked_names]


def check_consistency(app, env):
    _state(env)
    env._kernelbook_scan = None  # rescan: the sources may have changed since the last build
    scan = _marker_scan(env)
    root = repo_root(env)
    for path, line, message in scan.errors:
        logger.warning(message, location=(str(root / path), line), type="kernelbook", subtype="marker")
    used = set().union(*env.kernelbook_markers.values()) if env.kernelbook_markers else set()
    for key, region in sorted(scan.regions.items()):
        if key not in used:
            logger.warning(f"book marker {region.name!r} in {region.path} is used by no page: "
                           f"quote it with {{excerpt}} or remove it", location=(str(root / region.path), region.begin_line),
                           type="kernelbook", subtype="marker")
    for chapter in committed_chapters(root):
        # A chapter's text is its README: once it has one, the book must show it.
        if (root / "chapters" / chapter / "README.md").is_file() and f"chapters/{chapter}" not in env.found_docs:
            logger.warning(f"chapter {chapter} has no book page: add book/chapters/{chapter}.md",
                           type="kernelbook", subtype="chapter")


def check_log_markers(app, env):
    """Each ``<!-- log BOOT PATTERN -->VALUE<!-- /log -->`` in a chapter README
    still says what its boot logs (quotes.py)."""
    for readme in sorted(repo_root(env).glob("chapters/*/README.md")):
        for finding in quotes.check_markers(Path(env.config.book_logs_dir), readme.read_text(encoding="utf-8")):
            logger.warning(f"{finding.what}: {finding.problem}: {quotes.SYNC_HINT}",
                           location=f"{readme}:{finding.line}", type="kernelbook", subtype="inline")


def setup(app: Sphinx):
    app.add_config_value("book_repo_root", str(Path(__file__).resolve().parents[3]), "env")
    app.add_config_value("book_build_dir", "", "env")
    app.add_config_value("book_logs_dir", "", "env")
    app.add_config_value("book_source_roots", ["chapters", "common"], "env")
    app.add_config_value("book_excerpt_roots", list(quotes.EXCERPT_ROOTS), "env")
    app.add_config_value("book_require_inline_copies", False, "env")
    app.add_node(source_ref)
    layout.setup(app)  # code lines that wrap; <details> for the folded chapter diff
    app.add_lexer("kernel-gas", _gas_lexer_class())
    app.add_role("src", SourceRole())
    app.add_directive("excerpt", ExcerptDirective)
    app.add_directive("bootlog", BootLogDirective)
    app.add_directive("chapter-sources", ChapterSourcesDirective)
    app.add_directive("address-space", AddressSpaceDirective)
    app.add_directive("page-walk", PageWalkDirective)
    app.add_directive("process-space", ProcessSpaceDirective)
    app.add_directive("log-formats", LogFormatsDirective)
    app.add_directive("command-line-options", CommandLineOptionsDirective)
    app.add_transform(RepositoryLinks)
    app.connect("builder-inited", lambda app: setattr(app.env, "_kernelbook_scan", None))
    app.connect("doctree-resolved", resolve_source_refs)
    app.connect("html-collect-pages", source_pages)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.connect("env-check-consistency", check_consistency)
    app.connect("env-check-consistency", check_log_markers)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
