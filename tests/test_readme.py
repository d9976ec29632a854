"""The top-level README stays a learner's path, and its links lead somewhere.

The README is what a learner reads first: it stays under 200 lines, and the
material for whoever changes the tests or the benchmarks lives in
tests/README.md and bench/README.md, which it links. Every relative link in
those three files must reach an existing file, and a link with an anchor
(``#debugging``, ``../README.md#how-to-follow-a-chapter``) a heading of that
Markdown file. No boots: this reads Markdown only.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

import harness

README = harness.REPO_ROOT / "README.md"
TESTS_README = harness.REPO_ROOT / "tests" / "README.md"
BENCH_README = harness.REPO_ROOT / "bench" / "README.md"
DOCS = (README, TESTS_README, BENCH_README)
MAX_README_LINES = 200

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def without_code(text: str) -> str:
    """The text with fenced blocks and inline code removed: links there are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def link_targets(text: str) -> list[str]:
    return LINK.findall(without_code(text))


def anchors(text: str) -> set[str]:
    """The anchors GitHub (and MyST's heading anchors) give a file's headings."""
    slugs = set()
    for heading in HEADING.findall(without_code(text.replace("`", ""))):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def broken_links(path: Path) -> list[str]:
    """Every relative link of ``path`` that does not reach a file (or a heading in it)."""
    problems = []
    for target in link_targets(path.read_text(encoding="utf-8")):
        if SCHEME.match(target):
            continue  # https:, mailto: and the like: not ours to check here
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{target}: no such file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {linked.name}")
    return problems


def test_the_readme_stays_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < MAX_README_LINES, (
        f"README.md has {len(lines)} lines; keep it a learner's path and move detail to "
        "tests/README.md, bench/README.md or the book")


def test_the_readme_links_the_tests_and_benchmark_docs():
    targets = {target.partition("#")[0] for target in link_targets(README.read_text(encoding="utf-8"))}
    for doc in (TESTS_README, BENCH_README):
        relative = doc.relative_to(harness.REPO_ROOT).as_posix()
        assert relative in targets, f"README.md does not link {relative}"
        assert doc.is_file(), f"{relative} is missing"


@pytest.mark.parametrize("doc", DOCS, ids=[d.relative_to(harness.REPO_ROOT).as_posix() for d in DOCS])
def test_every_relative_link_resolves(doc):
    assert not broken_links(doc)


def test_the_link_check_finds_broken_links(tmp_path):
    """The check above can fail: a missing file, a missing heading, both found;
    links in code, URLs and links that resolve are left alone."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.md").write_text("# Other\n\n## What `make test` runs\n")
    doc = tmp_path / "doc.md"
    doc.write_text(textwrap.dedent("""\
        # Doc

        ## How to follow a chapter

        [ok](sub/other.md) [ok](sub/other.md#what-make-test-runs) [ok](#how-to-follow-a-chapter)
        [ok](https://example.org/nothing.md) ![ok](sub/other.md)
        [gone](sub/missing.md) [no heading](sub/other.md#testing) [no heading here](#benchmarks)
        `[in code](nowhere.md)`

        ```
        [in a block](nowhere-either.md)
        ```
        """))
    assert broken_links(doc) == [
        f"sub/missing.md: no such file {tmp_path / 'sub' / 'missing.md'}",
        "sub/other.md#testing: no heading #testing in other.md",
        "#benchmarks: no heading #benchmarks in doc.md",
    ]
