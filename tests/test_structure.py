"""Which chapter each chapter builds on, and the structure that keeps stories readable.

Every `chapter.mk` from 02 on names its base (`CHAPTER_BASE`) and only the
common/mm modules it adds (`CHAPTER_NEW_MODULES`); mk/kernel.mk links the
base's modules and those, and the book diffs a chapter against its base
(book/_ext/kernelbook/sources.py). A chapter builds on the one before it
unless its README says why not ("builds on NN-name"). Its kernel keeps what
the base's did: the book's diff for a chapter deletes no code of its base.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import harness

REPO = harness.REPO_ROOT
sys.path.insert(0, str(REPO / "book" / "_ext"))
from kernelbook import sources  # noqa: E402

CHAPTERS = harness.chapters()


@pytest.mark.parametrize("chapter", CHAPTERS[1:])
def test_every_chapter_declares_its_base_and_only_what_it_adds(chapter):
    mk = (REPO / "chapters" / chapter / "chapter.mk").read_text()
    assert re.search(r"^CHAPTER_BASE := \S+$", mk, re.M), f"{chapter}/chapter.mk names no CHAPTER_BASE"
    assert "CHAPTER_MM_MODULES" not in mk, "list only the modules the chapter adds (CHAPTER_NEW_MODULES)"
    base = sources.chapter_base(REPO, chapter)
    own = re.search(r"^CHAPTER_NEW_MODULES :=(.*)$", mk, re.M)
    inherited = set(sources.mm_modules(REPO, base))
    assert own is not None
    assert not set(own[1].split()) & inherited, f"{chapter} lists modules its base {base} already links"


@pytest.mark.parametrize("chapter", CHAPTERS[1:])
def test_a_chapter_builds_on_the_one_before_unless_its_readme_says_why(chapter):
    base = sources.chapter_base(REPO, chapter)
    previous = CHAPTERS[CHAPTERS.index(chapter) - 1]
    if base != previous:
        readme = (REPO / "chapters" / chapter / "README.md").read_text()
        assert f"builds on {base}" in readme, f"{chapter} builds on {base}, not {previous}: its README must say why"


def test_make_links_what_the_lineage_says():
    """mk/kernel.mk's list (make's own database) equals the book's reading of the lineage."""
    out = subprocess.run(["make", "-pn", "help"], cwd=REPO, capture_output=True, text=True,
                         env=harness.paths.environment_outside_make()).stdout
    for chapter in CHAPTERS:
        line = re.search(rf"^{re.escape(chapter)}_MM_MODULES :=(.*)$", out, re.M)
        assert line, chapter
        words = [] if line[1].strip() == "$(subst ,, )" else line[1].split()  # how make shows " "
        assert words == sources.mm_modules(REPO, chapter), chapter


def deleted_code(chapter: str) -> dict[str, list[str]]:
    """File name -> the code lines (not comments) the book's diff of
    ``chapter`` against its base deletes."""
    base = sources.chapter_base(REPO, chapter)
    deleted: dict[str, list[str]] = {}
    for file in sources.chapter_diff(REPO, harness.BUILD_DIR, base, chapter).files:
        body = file.text.splitlines()[2:]
        # A line whose code comes back with another comment was not deleted.
        added = {code_of(line[1:]) for line in body if line.startswith("+")}
        for line in body:
            code = code_of(line[1:])
            if line.startswith("-") and code and code not in added:
                deleted.setdefault(file.path.rsplit("/", 1)[-1], []).append(code)
    return deleted


def code_of(line: str) -> str:
    """The line without its comment, or "" for a comment line. Which
    chapter's MemoryManager a line names (chapter09:: or chapter10::) does
    not make it another line."""
    text = line.strip()
    if text.startswith(("//", "#", "/*", "*")):
        return ""
    return re.sub(r"\bchapter\d\d::", "chapterNN::", text.split("  //", 1)[0].strip())


#: Code of a base's MemoryManager that a chapter does drop, and why.
DROPPED_ON_PURPOSE: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS[1:] if (REPO / "chapters" / c / "memory_manager.h").exists()])
def test_a_memory_manager_keeps_the_code_of_its_bases(built, chapter):
    deleted = deleted_code(chapter)
    lost = [(name, line) for name, lines in deleted.items() if name.startswith("memory_manager.")
            for line in lines if (chapter, line) not in DROPPED_ON_PURPOSE]
    assert not lost, f"{chapter}'s MemoryManager drops code of its base: {lost}"


def test_chapter_10_keeps_chapter_09s_verification(built):
    """Issue 20: chapter 10 once built on 08, and its diff deleted 09's verify()."""
    assert sources.chapter_base(REPO, "10-page-faults") == "09-verify"
    deleted = deleted_code("10-page-faults")
    # The one line of 09's story that 10 drops is the call of 09's test hook.
    assert deleted.get("kernel_main.cpp", []) == ["plant_requested_bad_mappings(memory);"]
    assert set(deleted) <= {"kernel_main.cpp", "chapter.mk"}


# ---------------------------------------------------------------------------
# Stories free of test hooks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_kernel_main_reads_no_test_option(chapter):
    """Fault injection and demonstrations on request live in files of their
    own (fault_injection.cpp, bad_mappings.cpp, faults_on_request.cpp, …),
    which kernel_main calls once: kernel_main reads as the lesson."""
    source = (REPO / "chapters" / chapter / "kernel_main.cpp").read_text()
    assert '"test.' not in source, f"{chapter}/kernel_main.cpp reads a test. option itself"


@pytest.mark.parametrize("header", sorted(REPO.glob("chapters/*/memory_manager.h")), ids=lambda p: p.parent.name)
def test_no_memory_manager_has_a_test_only_method(header):
    declarations = re.findall(r"^\s+[\w:<>&* ]+?\b(\w+)\(", header.read_text(), re.M)
    hooks = [name for name in declarations if re.search(r"bad_|corrupt|inject|damage", name)]
    assert not hooks, f"{header.parent.name}'s MemoryManager declares test hooks: {hooks}"


def test_no_include_runs_from_the_runtime_up_into_mm():
    """common/include <- common/kernel <- common/mm <- chapters: no shared
    header and no runtime file includes a memory-library header, not even a
    runtime module a chapter declares (CHAPTER_NEW_RUNTIME: chapter 10's
    exception tables take their stacks as kernel::IstStacks, and the fault
    reports, which need the memory library's knowledge, live in
    common/mm/kernel and reach the runtime through set_trap_handler)."""
    upward = []
    for path in [*(REPO / "common" / "kernel").rglob("*"), *(REPO / "common" / "include").rglob("*")]:
        if path.suffix not in (".h", ".cpp", ".S"):
            continue
        for included in re.findall(r'^#include "([^"]+)"', path.read_text(), re.M):
            if included.startswith("mm/"):
                upward.append(f"{path.relative_to(REPO)} includes {included}")
    assert not upward, "\n".join(upward)


def test_make_links_the_runtime_the_lineage_says():
    """mk/kernel.mk's runtime modules per chapter (make's own database) equal
    harness.paths' reading of the lineage, and the base set is the rest of
    common/kernel: chapter 01 links no module a later chapter declares."""
    out = subprocess.run(["make", "-pn", "help"], cwd=REPO, capture_output=True, text=True,
                         env=harness.paths.environment_outside_make()).stdout
    for chapter in CHAPTERS:
        line = re.search(rf"^{re.escape(chapter)}_RUNTIME_MODULES :=(.*)$", out, re.M)
        assert line, chapter
        words = re.sub(r"\$\(subst ,, +\)", " ", line[1]).split()  # how make shows blanks
        assert words == harness.paths.chapter_runtime_modules(chapter), chapter
    base = re.search(r"^RUNTIME_BASE_OBJS := (.*)$", out, re.M)
    assert base, "mk/kernel.mk has no RUNTIME_BASE_OBJS"
    expected = {f"build/common/kernel/{p.name}.o" for p in harness.paths.runtime_base() if p.name != "chapter_identity.cpp"}
    expected.add("build/generated/screen_font.cpp.o")  # the screen console's font, made from a Debian PSF at build time
    assert set(base[1].split()) == expected
    assert harness.paths.chapter_runtime_modules(CHAPTERS[0]) == []
    for module in harness.paths.chapter_runtime_modules(CHAPTERS[-1]):
        assert (REPO / "common" / "kernel" / f"{module}.cpp").is_file(), f"CHAPTER_NEW_RUNTIME names {module}: no common/kernel/{module}.cpp"


def test_every_include_says_where_its_header_lives():
    """One include root: "mm/page_table_builder.h", "mm/kernel/address_space.h",
    "kernel/panic.h", "boot/handoff.h"; a bare name only for a header beside
    the file (a chapter's own, a test helper); a chapter reaches a header of a
    chapter it builds on by folder, "05-paging/memory_manager.h"; "generated/…"
    for what the build writes into build/NN-name/generated/."""
    roots = [REPO / "common" / "include", REPO / "common"]
    vague = []
    for path in [*REPO.glob("common/**/*.[chS]*"), *REPO.glob("chapters/*/*.[ch]*")]:
        if path.suffix not in (".h", ".cpp", ".S"):
            continue
        in_chapter = path.parent.parent == REPO / "chapters"
        for included in re.findall(r'^#include "([^"]+)"', path.read_text(), re.M):
            beside = (path.parent / included).is_file() and "/" not in included
            rooted = any((root / included).is_file() for root in roots + [REPO / "chapters"] * in_chapter) and "/" in included
            generated = included.startswith("generated/")
            if not (rooted or generated or (beside and path.parts[-2] not in ("mm", "kernel", "boot", "support", "x86"))):
                vague.append(f"{path.relative_to(REPO)}: {included}")
    assert not vague, "spell the path from common/ (or common/include/):\n" + "\n".join(vague)
    # -Icommon/include comes first: a header there would hide one of the same path under common/.
    shadowed = [p.relative_to(REPO / "common" / "include").as_posix() for p in (REPO / "common" / "include").rglob("*.h")
                if (REPO / "common" / p.relative_to(REPO / "common" / "include")).exists()]
    assert not shadowed, f"the same path under common/include and common/: {shadowed}"


HAND_CEILING = re.compile(r"\+ *\w+ *- *1\) */|\+ *\d+\) */ *\d+")


def test_every_ceiling_division_is_div_ceil():
    """One helper, support/units.h's div_ceil, which cannot overflow."""
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in [*REPO.glob("common/**/*.[ch]*"), *REPO.glob("chapters/*/*.[ch]*")]
             if path.suffix in (".h", ".cpp")
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if HAND_CEILING.search(line) and not line.strip().startswith("//")]
    assert not found, "use div_ceil:\n" + "\n".join(found)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_includes_only_chapters_it_builds_on(chapter):
    """A chapter uses a base's code by including it ("07-temporary-window/
    memory_manager.h"), never by copying it, and only along its lineage
    (CHAPTER_BASE, and that one's base, …): so chapter N still builds
    without anything a later or a side chapter adds. Common code includes no
    chapter at all."""
    lineage = harness.paths.chapter_lineage(chapter)
    chapter_include = re.compile(r'^#include "(\d\d-[^/"]+)/[^"]+"', re.M)
    outside = [f"{path.name}: {m[0]}" for path in sorted((REPO / "chapters" / chapter).glob("*.[ch]*"))
               for m in chapter_include.finditer(path.read_text()) if m[1] not in lineage[1:]]
    assert not outside, f"{chapter} builds on {' <- '.join(lineage[1:]) or 'nothing'}:\n" + "\n".join(outside)
    if chapter == CHAPTERS[0]:
        up = [str(path.relative_to(REPO)) for path in REPO.glob("common/**/*.[chS]*")
              if path.suffix in (".h", ".cpp", ".S") and chapter_include.search(path.read_text())]
        assert not up, f"common code includes a chapter's header: {up}"


# ---------------------------------------------------------------------------
# Results that cannot be dropped
# ---------------------------------------------------------------------------

#: Types returned to report what happened (success or refusal, what a lookup
#: found) whose names do not end in "Result". Dropping one unread is a bug,
#: so each is [[nodiscard]]; the names here must still exist.
RESULT_TYPES_BY_ROLE = {"Violation", "Lookup", "Translation", "HeapCheck", "FaultVerdict", "MapRead",
                        "PageChoice", "TlbFlush", "TemporaryMapping"}

DECLARATION = re.compile(r"^\s*(?:struct|class)\s+(\[\[nodiscard\]\]\s+)?([A-Za-z_]\w*)\s*(?:final\s*)?[:{]", re.M)


def result_types(text: str) -> dict[str, bool]:
    """Every result type defined in ``text`` -> whether it is [[nodiscard]]."""
    return {name: bool(marked) for marked, name in DECLARATION.findall(text)
            if name.endswith("Result") or name in RESULT_TYPES_BY_ROLE}


def test_a_result_type_without_nodiscard_is_found():
    planted = "struct Other {};\nstruct [[nodiscard]] MapResult {\n};\nstruct PlantedResult {\n  int x;\n};\n" \
              "class Lookup final : public Base {};\n"
    assert result_types(planted) == {"MapResult": True, "PlantedResult": False, "Lookup": False}


def test_every_result_type_is_nodiscard():
    found: dict[str, bool] = {}
    unmarked = []
    for path in sorted((REPO / "common").rglob("*.h")):
        for name, marked in result_types(path.read_text()).items():
            found[name] = marked
            if not marked:
                unmarked.append(f"{path.relative_to(REPO)}: {name}")
    assert not unmarked, f"result types a caller could drop unread (mark them [[nodiscard]]): {unmarked}"
    assert RESULT_TYPES_BY_ROLE <= set(found), f"no longer defined: {RESULT_TYPES_BY_ROLE - set(found)}"
    assert len(found) >= 15, sorted(found)


# ---------------------------------------------------------------------------
# Addresses logged as themselves
# ---------------------------------------------------------------------------

#: klog::hex(<expression>.value()): an address unwrapped to be logged.
UNWRAPPED_HEX = re.compile(r"klog::hex\((?:[^()]|\([^()]*\))*?\.value\(\)\)")


def test_an_unwrapped_address_in_a_log_call_is_found():
    assert UNWRAPPED_HEX.search('line.kv("va", klog::hex(phys_to_virt(page).value()));')
    assert UNWRAPPED_HEX.search('kv("pa", klog::hex(r.pa.value()))')
    assert not UNWRAPPED_HEX.search('kv("pa", klog::hex(r.pa)).kv("n", index.value())')
    assert not UNWRAPPED_HEX.search('kv("va", klog::hex(start.value() + offset))')


def test_no_log_call_unwraps_an_address():
    """PhysAddr and VirtAddr have klog::hex overloads (mm/phys_addr.h,
    mm/virt_addr.h); a call site that logs .value() bypasses them."""
    unwrapped = [f"{path.relative_to(REPO)}: {m[0]}"
                 for path in sorted([*(REPO / "common").rglob("*.[ch]*"), *(REPO / "chapters").rglob("*.[ch]*")])
                 if path.suffix in (".h", ".cpp") for m in UNWRAPPED_HEX.finditer(path.read_text())]
    assert not unwrapped, unwrapped
