"""Facts the book reads from the sources and the build, never typed by hand:

* every log line the code can print (``klog::info("sub").msg("event").kv("key", ...)``),
* every command-line option the loader and kernels read
  (``command_line().value("key")`` / ``.has("flag")``),
* the files each chapter's kernel is built from (the compiler's ``.d`` files),
  and the difference between one chapter and the one before it.

Pure functions on a repository root, so the tests can call them.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .markers import is_marker_line

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from harness.paths import chapter_modules, chapter_runtime_modules, chapter_variables, runtime_base  # noqa: E402  (the one chapter.mk reader)

# ---------------------------------------------------------------------------
# C++ scanning helpers
# ---------------------------------------------------------------------------

_COMMENT_RE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'', re.S)


def strip_comments(code: str) -> str:
    """Blank out comments (keeping newlines, so line numbers survive); keep strings."""

    def blank(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith(("//", "/*")):
            return re.sub(r"[^\n]", " ", text)
        return text

    return _COMMENT_RE.sub(blank, code)


def _statement_end(code: str, start: int) -> int:
    """Index of the ';' that ends the statement starting at ``start`` (strings skipped)."""
    depth, i = 0, start
    while i < len(code):
        c = code[i]
        if c == '"':
            i += 1
            while i < len(code) and code[i] != '"':
                i += 2 if code[i] == "\\" else 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return i
        elif c == ";" and depth == 0:
            return i
        i += 1
    return len(code)


def cpp_files(repo_root: Path, roots: list[str]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        files += sorted(p for p in (repo_root / root).rglob("*") if p.suffix in (".cpp", ".h") and p.is_file())
    return files


# ---------------------------------------------------------------------------
# Log line formats
# ---------------------------------------------------------------------------

_LEVEL_NAMES = {"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"}
_LOG_START_RE = re.compile(
    r'klog::(?:(debug|info|warn|error)\(\s*"([^"]*)"\s*\)|Line\(\s*klog::Level::k(\w+)\s*,\s*"([^"]*)"\s*\))'
)
_MSG_RE = re.compile(r'\.msg\(\s*("(?:[^"\\]|\\.)*"|[^()]*(?:\([^()]*\))?[^()]*)\s*\)')
_KV_RE = re.compile(r'\.kv\(\s*"([^"]*)"')


@dataclass(frozen=True)
class LogFormat:
    level: str       #: DEBUG, INFO, WARN, ERROR or PANIC
    subsystem: str
    event: str       #: the message words; "‹expression›" when not a literal
    keys: tuple[str, ...]
    path: str
    line: int

    @property
    def shape(self) -> str:
        fields = " ".join(f"{key}=…" for key in self.keys)
        return f"[{self.level:<5} {self.subsystem}] {self.event}" + (f" {fields}" if fields else "")


def log_formats(repo_root: Path, roots: list[str], exclude: tuple[str, ...] = ()) -> list[LogFormat]:
    found = []
    for file in cpp_files(repo_root, roots):
        rel = file.relative_to(repo_root).as_posix()
        if rel in exclude:
            continue
        code = strip_comments(file.read_text(encoding="utf-8"))
        for match in _LOG_START_RE.finditer(code):
            level = _LEVEL_NAMES[match[1]] if match[1] else match[3].upper()
            subsystem = match[2] if match[1] else match[4]
            chain = code[match.end() : _statement_end(code, match.end())]
            events = []
            for m in _MSG_RE.finditer(chain):
                arg = m[1].strip()
                events.append(arg[1:-1] if arg.startswith('"') else f"‹{arg}›")
            keys = tuple(_KV_RE.findall(chain))
            line = code.count("\n", 0, match.start()) + 1
            found.append(LogFormat(level, subsystem, " ".join(events) or "‹no message›", keys, rel, line))
    return sorted(found, key=lambda f: (f.subsystem, f.event, f.level, f.path, f.line))


# ---------------------------------------------------------------------------
# Command-line options
# ---------------------------------------------------------------------------

_OPTION_RE = re.compile(r'\bcommand_line(?:\(\))?\.(has|value)\(\s*"([^"]+)"\s*\)')
_ASSIGNED_RE = re.compile(r"(\w+)\s*=\s*(?:kernel::)?command_line(?:\(\))?\.value\(\s*\"[^\"]+\"\s*\)")
# The names a sweep such as test.fault=all walks through, which are the
# option's values too: a constexpr array under a comment that names `<option>=all`,
#   // Every value test.fault= knows, in the order test.fault=all tries them.
#   constexpr Str kFaults[] = {"null", "write-text", …};
# or an array of structs whose entries each start with the name.
_NAME_LIST_RE = re.compile(
    r'(?P<comment>(?:[ \t]*//[^\n]*\n)+)[ \t]*constexpr\s+\w+\s+k\w+\[\]\s*=\s*\{(?P<body>(?:[^{}]|\{[^{}]*\})*)\}')


@dataclass
class CommandLineOption:
    name: str
    form: str                      #: "flag" (``.has``) or "key=value" (``.value``)
    values: list[str] = field(default_factory=list)  #: values the code compares against
    uses: list[tuple[str, int]] = field(default_factory=list)  #: (path, line)


def command_line_options(repo_root: Path, roots: list[str]) -> list[CommandLineOption]:
    options: dict[str, CommandLineOption] = {}
    for file in cpp_files(repo_root, roots):
        rel = file.relative_to(repo_root).as_posix()
        code = strip_comments(file.read_text(encoding="utf-8"))
        for match in _OPTION_RE.finditer(code):
            kind, name = match.groups()
            option = options.setdefault(name, CommandLineOption(name, "flag" if kind == "has" else "key=value"))
            if kind == "value":
                option.form = "key=value"
                # The values it is compared with: `... .value("log") == Str("debug")`, or
                # `const Str what = ... .value("test.fail");` then `what == Str("panic")`
                # in the rest of the same function.
                after = code[match.end() : match.end() + 40]
                option.values += re.findall(r'^\s*==\s*Str\("([^"]*)"\)', after)
                line_start = code.rfind("\n", 0, match.start()) + 1
                assigned = _ASSIGNED_RE.search(code, line_start, match.end())
                if assigned:
                    body_end = code.find("\n}", match.end())
                    body = code[match.end() : body_end if body_end >= 0 else len(code)]
                    option.values += re.findall(rf'\bif\s*\(\s*{assigned[1]}\s*==\s*Str\("([^"]*)"\)\s*\)', body)
            option.uses.append((rel, code.count("\n", 0, match.start()) + 1))
        for names in _NAME_LIST_RE.finditer(file.read_text(encoding="utf-8")):
            swept = re.search(r'([\w.-]+)=all\b', names["comment"])
            if swept and swept[1] in options:
                body = names["body"]
                options[swept[1]].values += ["all"] + re.findall(r'\{\s*"([^"]*)"' if "{" in body else r'"([^"]*)"', body)
    for option in options.values():
        option.values = list(dict.fromkeys(option.values))
    return sorted(options.values(), key=lambda o: o.name)


# ---------------------------------------------------------------------------
# What each chapter is built from
# ---------------------------------------------------------------------------


def chapter_names(repo_root: Path) -> list[str]:
    return sorted(p.parent.name for p in (repo_root / "chapters").glob("*/kernel_main.cpp"))


def chapter_base(repo_root: Path, chapter: str) -> str:
    """``CHAPTER_BASE``: the chapter this one builds on ("" for the first)."""
    return " ".join(chapter_variables(chapter, repo_root / "chapters").get("CHAPTER_BASE", []))


def mm_modules(repo_root: Path, chapter: str) -> list[str]:
    """Every common/mm module the chapter's kernel links (harness.paths reads
    chapter.mk as mk/kernel.mk does)."""
    return chapter_modules(chapter, repo_root / "chapters")


def is_test_hook(path: str) -> bool:
    """A chapter's fault-injection file: beside the story, not part of its diff."""
    name = path.rsplit("/", 1)[-1]
    return path.startswith("chapters/") and (name.startswith("bad_") or "injection" in name)


def _dep_file_paths(dep_file: Path) -> list[str]:
    text = dep_file.read_text(encoding="utf-8").replace("\\\n", " ")
    first_rule = text.split("\n", 1)[0]
    return first_rule.split(":", 1)[1].split() if ":" in first_rule else []


class MissingBuild(Exception):
    pass


def chapter_files(repo_root: Path, build_dir: Path, chapter: str) -> list[str]:
    """Repository files the chapter's kernel is built from: its own folder, every
    source and header the compiler read (``.d`` files), and the linker script."""
    dep_files = sorted((build_dir / chapter / "obj").glob("*.d"))
    if not dep_files:
        raise MissingBuild(f"{build_dir / chapter / 'obj'} has no .d files: build the chapter first (make kernels)")
    runtime = build_dir / "common" / "kernel"
    # (chapter_identity.cpp is compiled per chapter: its .d is in the chapter's obj/)
    dep_files += [runtime / f"{p.name}.d" for p in runtime_base(repo_root / "chapters") if p.name != "chapter_identity.cpp"]
    dep_files += [runtime / f"{m}.cpp.d" for m in chapter_runtime_modules(chapter, repo_root / "chapters")]
    dep_files += [build_dir / "common" / "mm" / f"{m}.cpp.d" for m in mm_modules(repo_root, chapter)]
    # lab.toml is the chapter's lab (scripts/lab), not a source of its kernel.
    files = {p.relative_to(repo_root).as_posix() for p in (repo_root / "chapters" / chapter).iterdir()
             if p.is_file() and p.name != "lab.toml"}
    files.add("common/kernel/kernel.ld")
    for dep in dep_files:
        if not dep.is_file():
            raise MissingBuild(f"{dep} is missing: build the chapter first (make kernels)")
        for path in _dep_file_paths(dep):
            full = (repo_root / path).resolve()
            # Generated files (build/NN/known_options.inc) are the build's, not the chapter's.
            if full.is_relative_to(repo_root) and not full.is_relative_to(build_dir.resolve()) and full.is_file():
                files.add(full.relative_to(repo_root).as_posix())
    return sorted(files)


def loader_files(repo_root: Path, build_dir: Path) -> list[str]:
    dep_files = sorted((build_dir / "loader").glob("*.d"))
    if not dep_files:
        raise MissingBuild(f"{build_dir / 'loader'} has no .d files: build the loader first (make loader)")
    files = set()
    for dep in dep_files:
        for path in _dep_file_paths(dep):
            full = (repo_root / path).resolve()
            if full.is_relative_to(repo_root) and full.is_file():
                files.add(full.relative_to(repo_root).as_posix())
    return sorted(files)


@dataclass
class FileDiff:
    """One file's part of a chapter diff: ``status`` is ``changed``, ``new`` or
    ``removed``; ``path`` the file as the later chapter has it (the earlier
    chapter's for a removed one); ``added`` and ``removed`` count the diff's
    ``+`` and ``-`` lines."""

    status: str
    path: str
    text: str
    added: int
    removed: int


@dataclass
class ChapterDiff:
    previous: str
    added: list[str]
    changed: list[tuple[str, str]]  #: (file in the previous chapter, file in this one)
    removed: list[str]
    diff: str
    files: list[FileDiff] = field(default_factory=list)  #: per file, in the order of ``diff``


def chapter_diff(repo_root: Path, build_dir: Path, previous: str, chapter: str) -> ChapterDiff:
    """What ``chapter`` adds to ``previous``: its folder compared file by file
    with the previous chapter's (as ``diff -ruN`` would), plus the shared files
    its kernel uses that the previous kernel did not (and the other way round).
    READMEs are prose, not code: they are left out, and so are the chapters'
    test hooks (:func:`is_test_hook`), which live beside the story."""
    old = set(chapter_files(repo_root, build_dir, previous))
    new = set(chapter_files(repo_root, build_dir, chapter))
    old_prefix, new_prefix = f"chapters/{previous}/", f"chapters/{chapter}/"

    # A chapter's own file is compared with the base's file of the same name;
    # a base's file the chapter itself includes (its unchanged MemoryManager,
    # say) is compared with itself, by path.
    def key(path: str, prefix: str, other: set[str]) -> str:
        return "@chapter/" + path[len(prefix):] if path.startswith(prefix) and path not in other else path

    old_by_key = {key(p, old_prefix, new): p for p in old if not p.endswith("README.md") and not is_test_hook(p)}
    new_by_key = {key(p, new_prefix, old): p for p in new if not p.endswith("README.md") and not is_test_hook(p)}
    result = ChapterDiff(previous, [], [], [], "")
    chunks: list[str] = []
    for k in sorted(set(old_by_key) | set(new_by_key)):
        a, b = old_by_key.get(k), new_by_key.get(k)
        # The book's own marker comments are not code: they stay out of the diff.
        a_text = [l for l in (repo_root / a).read_text(encoding="utf-8").splitlines(keepends=True) if not is_marker_line(l)] if a else []
        b_text = [l for l in (repo_root / b).read_text(encoding="utf-8").splitlines(keepends=True) if not is_marker_line(l)] if b else []
        if a_text == b_text:
            continue
        if a and b:
            result.changed.append((a, b))
        elif b:
            result.added.append(b)
        else:
            result.removed.append(a)  # type: ignore[arg-type]
        lines = list(difflib.unified_diff(a_text, b_text, f"a/{a}" if a else "/dev/null", f"b/{b}" if b else "/dev/null"))
        text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        body = lines[2:]  # after the ---/+++ header
        result.files.append(FileDiff("changed" if a and b else "new" if b else "removed", b or a, text,  # type: ignore[arg-type]
                                     sum(l.startswith("+") for l in body), sum(l.startswith("-") for l in body)))
        chunks.append(text)
    result.diff = "".join(chunks)
    return result
