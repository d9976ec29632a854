"""The shape every chapter page keeps, and the one computed walk the paging primer shows.

A chapter README tells its concept first and keeps the test machinery apart:
pytest modules, harness functions and ``test.`` fault-injection options appear
only from its ``## How this chapter is tested`` section on, which comes before
``## Try it`` and ``## Exercises``. It ends with ``## Takeaways``, three to five
bullet points, followed by nothing but ``## Exercises`` and ``## Sources``.

Only what a reader reads as prose is checked: fenced blocks are left out
(an ``{excerpt}`` quotes source code, whose comments may name a ``test.``
option, and a ``{bootlog}`` names its boot in its options), and so are HTML
comments (the ``<!-- log … -->`` markers name their boot too).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import harness

REPO = harness.REPO_ROOT
sys.path.insert(0, str(REPO / "book" / "_ext"))
from kernelbook import quotes  # noqa: E402

TESTED = "How this chapter is tested"
TAKEAWAYS = "Takeaways"
AFTER_TAKEAWAYS = {"Exercises", "Sources"}
#: Words that belong to the test machinery, not to the concept.
MACHINERY = re.compile(r"\bpytest\b|\btests/|\bharness\b|\btest\.[a-z]")
PRIMER = REPO / "book" / "reference" / "paging-primer.md"


def readme(chapter: str) -> Path:
    return REPO / "chapters" / chapter / "README.md"


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line) of every line outside fenced blocks, HTML comments blanked."""
    lines = text.splitlines()
    fenced: set[int] = set()
    for start, end, _, fence, _ in quotes.fences(lines):
        if fence[0] != ":":
            fenced.update(range(start, end + 1))
    kept = "\n".join("" if i in fenced else line for i, line in enumerate(lines))
    kept = re.sub(r"<!--.*?-->", lambda m: re.sub(r"[^\n]", " ", m[0]), kept, flags=re.S)
    return [(i + 1, line) for i, line in enumerate(kept.split("\n")) if i not in fenced]


def sections(text: str) -> list[tuple[str, list[tuple[int, str]]]]:
    """The page's ``##`` sections in order, each with its prose lines; the part
    before the first one is named ""."""
    found: list[tuple[str, list[tuple[int, str]]]] = [("", [])]
    for number, line in prose_lines(text):
        heading = re.match(r"^## +(.+?)\s*$", line)
        if heading:
            found.append((heading[1], []))
        else:
            found[-1][1].append((number, line))
    return found


def titles(text: str) -> list[str]:
    return [title for title, _ in sections(text)]


@pytest.mark.parametrize("chapter", harness.chapters())
def test_every_chapter_has_one_section_on_how_it_is_tested_before_try_it_and_exercises(chapter):
    names = titles(readme(chapter).read_text(encoding="utf-8"))
    assert names.count(TESTED) == 1, f"{chapter}: needs exactly one '## {TESTED}' section"
    for later in ("Try it", "Exercises"):
        if later in names:
            assert names.index(TESTED) < names.index(later), f"{chapter}: '## {TESTED}' must come before '## {later}'"


@pytest.mark.parametrize("chapter", harness.chapters())
def test_no_section_before_it_mentions_the_test_machinery(chapter):
    found = []
    for title, lines in sections(readme(chapter).read_text(encoding="utf-8")):
        if title == TESTED:
            break
        found += [f"line {n} ({title or 'introduction'}): {m[0]!r}" for n, line in lines for m in MACHINERY.finditer(line)]
    assert not found, f"{chapter}: test machinery before '## {TESTED}' (move it there):\n" + "\n".join(found)


@pytest.mark.parametrize("chapter", harness.chapters())
def test_every_chapter_ends_with_three_to_five_takeaways(chapter):
    parts = sections(readme(chapter).read_text(encoding="utf-8"))
    names = [title for title, _ in parts]
    assert names.count(TAKEAWAYS) == 1, f"{chapter}: needs exactly one '## {TAKEAWAYS}' section"
    at = names.index(TAKEAWAYS)
    assert TESTED not in names or names.index(TESTED) < at, f"{chapter}: '## {TAKEAWAYS}' comes after '## {TESTED}'"
    assert set(names[at + 1:]) <= AFTER_TAKEAWAYS, \
        f"{chapter}: only {sorted(AFTER_TAKEAWAYS)} may follow '## {TAKEAWAYS}', not {names[at + 1:]}"
    bullets = [line for _, line in parts[at][1] if re.match(r"^[-*] \S", line)]
    assert 3 <= len(bullets) <= 5, f"{chapter}: {len(bullets)} takeaways; write 3 to 5 bullet points"


# ---- the checks reject what they must ---------------------------------------------------

GOOD = """# Chapter
Intro.
```{excerpt} chapters/x/kernel_main.cpp kernel-main
fail_if_requested();  // test.fail: beside the story
```
The value <!-- log 10-x+test.fault=all ready (\\d+) -->3<!-- /log --> is marked.
## Concept
Text.
## How this chapter is tested
`tests/test_x.py` boots with `test.fail=panic`; the harness reads QEMU.
## Try it
- `make run CMDLINE=test.fail=panic`
## Takeaways
- one
- two
- three
## Exercises
Run pytest.
## Sources
"""


def test_the_shape_checks_accept_a_good_page_and_reject_each_fault():
    assert titles(GOOD) == ["", "Concept", TESTED, "Try it", TAKEAWAYS, "Exercises", "Sources"]
    concept = [line for title, lines in sections(GOOD) if title in ("", "Concept") for _, line in lines]
    assert not [line for line in concept if MACHINERY.search(line)], "fences and comments are not prose"
    leaked = GOOD.replace("Text.", "The harness checks this (`test.remap`).")
    assert len([m for title, lines in sections(leaked) if title == "Concept"
                for _, line in lines for m in MACHINERY.finditer(line)]) == 2
    takeaways = dict(sections(GOOD))[TAKEAWAYS]
    assert len([line for _, line in takeaways if line.startswith("- ")]) == 3


def test_the_primer_is_in_the_reference_toctree():
    index = (REPO / "book" / "index.md").read_text(encoding="utf-8")
    assert re.search(r"^reference/paging-primer$", index, re.M)


def test_the_primer_walks_the_address_its_boot_line_quotes():
    """The primer's table of indices is computed by hand from the text-start
    line it quotes (its va is fixed by kernel.ld, so the table stays true); the book build keeps that quote equal to a real boot, and
    this keeps the table equal to the quote."""
    text = PRIMER.read_text(encoding="utf-8")
    quoted = [line for block in quotes.blocks(text) if block.kind == "bootlog" for line in block.body]
    va = next(int(m[1], 16) for line in quoted if (m := re.search(r"check what=text-start va=(0x[0-9a-f]+)", line)))
    expected = {
        "47–39": (va >> 39) & 0x1FF,
        "38–30": (va >> 30) & 0x1FF,
        "29–21": (va >> 21) & 0x1FF,
        "20–12": (va >> 12) & 0x1FF,
        "11–0": va & 0xFFF,
    }
    rows = {m[1]: m for m in re.finditer(r"^\| (\d+–\d+) \| [^|]+ \| `([01]+)` \| (0x[0-9a-f]+|\d+) \|$", text, re.M)}
    assert set(rows) == set(expected), f"the primer's walk table has rows {sorted(rows)}"
    for bits, value in expected.items():
        row = rows[bits]
        assert int(row[2], 2) == value and int(row[3], 0) == value, f"bits {bits} of {va:#x} are {value}, not {row[0]}"
    assert f"`{va:#x}`" in text, "the primer names the address it walks"


# ---- a chapter's lab, on its page ----------------------------------------------------------

LAB = "Lab"


def lab_chapters() -> list[str]:
    return sorted(path.parent.name for path in (REPO / "chapters").glob("*/lab.toml"))


def test_every_chapter_from_02_on_has_a_lab_as_the_readme_says():
    assert "Every chapter from 02 on has a lab" in (REPO / "README.md").read_text()
    assert lab_chapters() == [c for c in harness.chapters() if c >= "02"]


@pytest.mark.parametrize("chapter", lab_chapters())
def test_a_chapter_with_a_lab_says_how_to_do_it_and_folds_its_hints_in_order(chapter):
    """The `## Lab` section sits between the tests and the takeaways, names
    the commands, and carries every hint of lab.toml, in order, each folded."""
    sys.path.insert(0, str(REPO / "scripts" / "lab"))
    import labspec

    text = readme(chapter).read_text(encoding="utf-8")
    names = titles(text)
    assert names.count(LAB) == 1, f"{chapter}: has chapters/{chapter}/lab.toml, so needs one '## {LAB}' section"
    assert names.index(TESTED) < names.index(LAB) < names.index(TAKEAWAYS), \
        f"{chapter}: '## {LAB}' belongs after '## {TESTED}' and before '## {TAKEAWAYS}'"
    body = text.split("\n## Lab\n", 1)[1].split("\n## ", 1)[0]
    for command in (f"make lab CH={chapter}", f"make grade CH={chapter}"):
        assert command in body, f"{chapter}: the lab section does not show `{command}`"
    flat = " ".join(body.split())
    at = 0
    for part in labspec.load(chapter).parts:
        assert f"`{part.name}`" in body, f"{chapter}: the lab section does not name part {part.name}"
        for number, hint in enumerate(part.hints, start=1):
            folded = f"<details><summary>Hint {number}</summary> {' '.join(hint.split())} </details>"
            found = flat.find(folded, at)
            assert found >= 0, f"{chapter}: hint {number} of {part.name} is not in the lab section, folded, in order"
            at = found + len(folded)


# ---- every exercise is answered, or says how to see the answer ----------------------------

EXERCISES = "Exercises"
#: A folded answer, as it renders on GitHub and in the book; it must not be empty.
FOLDED_ANSWER = re.compile(r"<details><summary>Answer</summary>\s*(.*?)\s*</details>", re.S)
#: A command that shows the result of a "change this and see" exercise.
MAKE_COMMAND = re.compile(r"`make (?:check|grade|run) CH=(\d\d-[a-z0-9-]+)[^`]*`")


def exercises(text: str) -> list[tuple[int, str]]:
    """(number, text) of every numbered item of the page's ``## Exercises``
    section, its folded answer included, lines joined by single spaces (a
    command may break across lines)."""
    items: list[tuple[int, list[str]]] = []
    for title, lines in sections(text):
        if title != EXERCISES:
            continue
        for _, line in lines:
            item = re.match(r"^(\d+)\. ", line)
            if item:
                items.append((int(item[1]), [line]))
            elif items:
                items[-1][1].append(line.strip())
    return [(number, " ".join(part for part in lines if part)) for number, lines in items]


def unanswered(chapter: str, text: str) -> list[int]:
    """The exercises of `chapter`'s page with neither a non-empty folded answer
    nor a make command for that chapter."""
    def answered(item: str) -> bool:
        folded = any(answer.strip() for answer in FOLDED_ANSWER.findall(item))
        return folded or chapter in MAKE_COMMAND.findall(item)
    return [number for number, item in exercises(text) if not answered(item)]


@pytest.mark.parametrize("chapter", harness.chapters())
def test_every_exercise_has_a_folded_answer_or_names_the_command_that_shows_it(chapter):
    text = readme(chapter).read_text(encoding="utf-8")
    numbers = [number for number, _ in exercises(text)]
    assert numbers, f"{chapter}: '## {EXERCISES}' has no numbered exercise"
    assert numbers == list(range(1, len(numbers) + 1)), f"{chapter}: exercises numbered {numbers}"
    missing = unanswered(chapter, text)
    assert not missing, (f"{chapter}: exercise(s) {missing} need a folded answer "
                         "(<details><summary>Answer</summary> … </details>) or a `make check/grade/run CH=…` command")


PLANTED_EXERCISES = GOOD.replace("## Exercises\nRun pytest.\n", """## Exercises
After each change, `make check CH=01-boot` shows it (not an exercise: no number).

1. Change it and see (`make check
   CH=01-boot`).
2. Why?

   <details><summary>Answer</summary>

   Because.

   </details>
3. Why not?
4. An empty answer.

   <details><summary>Answer</summary>
   </details>
5. Another chapter's command: `make grade CH=02-memory-map`.
6. A hint is not an answer.

   <details><summary>Hint 1</summary>

   Look.

   </details>
```text
7. in a fence: not an exercise
```
""")


def test_the_exercise_check_finds_each_unanswered_exercise():
    assert [number for number, _ in exercises(PLANTED_EXERCISES)] == [1, 2, 3, 4, 5, 6]
    assert unanswered("01-boot", PLANTED_EXERCISES) == [3, 4, 5, 6]
    assert unanswered("02-memory-map", PLANTED_EXERCISES) == [1, 3, 4, 6]
    assert exercises(GOOD) == []
