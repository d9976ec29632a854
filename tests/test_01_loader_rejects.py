"""Chapter 01: the loader refuses bad input by name, and exits with the failure code.

Every malformed kernel ELF is tried in one boot: ``loader.check-kernels``
makes the loader read every file in ``\\check-kernels\\`` and put each through
the same validation as ``\\kernel.elf``, one verdict line per file, then stop
with the failure code (common/boot/kernel_file_check.h). The real kernel goes
in too, and must be accepted. Three boots keep the ordinary paths, where one
bad input is the loader's last word: a garbage ``\\kernel.elf``, a missing one,
and an overlong command line.
"""

from __future__ import annotations

from functools import cache

import pytest

import harness
from harness.elf import E_MACHINE_OFFSET, PF_R, PF_W, PF_X, patched, program_header_offset, read_elf

CHAPTER = "01-boot"
FOLDER = "check-kernels"
P_VADDR, P_FILESZ, P_MEMSZ = 16, 32, 40  # offsets inside an ELF64 program header
PT_TLS = 7
PAGE = 4096
GARBAGE = b"this is not an ELF file at all" * 10


def kernel_bytes() -> bytes:
    return harness.chapter_kernel(CHAPTER).read_bytes()


def wrong_machine(data: bytes) -> bytes:
    return patched(data, E_MACHINE_OFFSET, "H", 3)


def writable_and_executable_text(data: bytes) -> bytes:
    return patched(data, program_header_offset(data, 0) + 4, "I", PF_R | PF_W | PF_X)  # p_flags of the text segment


def segment_in_the_low_half(data: bytes) -> bytes:
    return patched(data, program_header_offset(data, 0) + P_VADDR, "Q", 0x40_0000)


def overlapping_segments(data: bytes) -> bytes:
    """The second segment moved onto the first: a layout no linker produces."""
    text_vaddr = int.from_bytes(data[program_header_offset(data, 0) + P_VADDR:][:8], "little")
    return patched(data, program_header_offset(data, 1) + P_VADDR, "Q", text_vaddr)


def enormous_bss(data: bytes) -> bytes:
    return patched(data, program_header_offset(data, 2) + P_MEMSZ, "Q", 1 << 40)


def text_without_file_bytes(data: bytes) -> bytes:
    """The text segment's p_filesz = 0: all .bss, so the entry would run zeroes."""
    return patched(data, program_header_offset(data, 0) + P_FILESZ, "Q", 0)


def rodata_relabelled_tls(data: bytes) -> bytes:
    """The rodata segment's p_type = PT_TLS: nothing would load it."""
    return patched(data, program_header_offset(data, 1), "I", PT_TLS)


def entry(data: bytes) -> str:
    return hex(read_elf(data).entry)


#: file name -> (how to make it from the real kernel, field, value, rule or None)
BAD_KERNELS = {
    "garbage.elf": (lambda _: GARBAGE, "e_ident.magic", "0x73696874", None),  # "this", little-endian
    "wrong-machine.elf": (wrong_machine, "e_machine", "0x3", "must be EM_X86_64 (0x3e)"),
    "truncated.elf": (lambda data: data[:100], "e_phoff", "0x40", None),
    "wx-text.elf": (writable_and_executable_text, "p_flags", "0x7", None),
    "low-half.elf": (segment_in_the_low_half, "p_vaddr", "0x400000",
                     "must be in the higher half (>= 0xffff800000000000)"),
    "overlapping.elf": (overlapping_segments, "p_vaddr", None,
                        "PT_LOAD segments must not overlap or share a 4KiB page"),
    "enormous-bss.elf": (enormous_bss, "p_memsz", hex(1 << 40), "must be at most 64MiB"),
    "empty-text.elf": (text_without_file_bytes, "e_entry", None,
                       "must point into file-backed bytes of its segment (below p_vaddr + p_filesz)"),
    "tls-rodata.elf": (rodata_relabelled_tls, "p_type", hex(PT_TLS),
                       "PT_TLS: the kernel must not use thread-local storage"),
}
#: A folder where a kernel file is expected: read_file refuses it, as it
#: refuses a folder named \kernel.elf (common/boot/boot_volume.h).
FOLDER_KERNEL = "folder.elf"
GOOD_KERNEL = "kernel.elf"


def assert_boot_stopped(result) -> list:
    """The failure code, an ERROR line for it last, and no kernel: returns the ERROR lines."""
    harness.assert_outcome(result, "failure")
    errors = [r for r in result.records if r.level == "ERROR"]
    assert errors, "no ERROR line before the failure exit"
    assert errors[-1] is result.records[-1]
    assert errors[-1].event == "boot stopped" and errors[-1].fields["exit"] == "failure"
    assert not result.records_for("kernel"), "the kernel must never start"
    return errors


# ---------------------------------------------------------------------------
# Every malformed ELF in one boot
# ---------------------------------------------------------------------------

@cache
def checked_kernels():
    data = kernel_bytes()
    files = {f"{FOLDER}/{name}": make(data) for name, (make, *_) in BAD_KERNELS.items()}
    files[f"{FOLDER}/{GOOD_KERNEL}"] = data
    files[f"{FOLDER}/{FOLDER_KERNEL}/inside.txt"] = b"a folder, not a kernel"
    result = harness.boot(harness.BootConfig(CHAPTER, cmdline="loader.check-kernels", esp_files=files, timeout=60))
    assert_boot_stopped(result)
    return result


def verdicts(result) -> dict[str, harness.log.LogRecord]:
    """File name -> its one verdict line."""
    found = {}
    for r in result.records_for("loader"):
        if r.event in ("kernel.elf rejected", "kernel.elf accepted", "cannot read kernel"):
            name = r.fields["path"].removeprefix(f"\\{FOLDER}\\")
            assert name not in found, f"two verdicts for {name}"
            found[name] = r
    return found


def test_every_file_gets_one_verdict_then_the_boot_stops(built):
    result = checked_kernels()
    assert sorted(verdicts(result)) == sorted([*BAD_KERNELS, GOOD_KERNEL, FOLDER_KERNEL])
    summary = [r for r in result.records_for("loader") if r.event == "kernel files checked"]
    assert len(summary) == 1 and result.records.index(summary[0]) == len(result.records) - 2
    counts = {k: int(summary[0].fields[k]) for k in ("files", "accepted", "rejected", "unreadable")}
    assert counts == {"files": len(BAD_KERNELS) + 2, "accepted": 1, "rejected": len(BAD_KERNELS), "unreadable": 1}
    assert not [r for r in result.records_for("loader") if r.event in ("read kernel", "kernel loaded")]


def test_a_folder_named_like_a_kernel_is_refused_as_a_folder(built):
    error = verdicts(checked_kernels())[FOLDER_KERNEL]
    assert (error.level, error.event) == ("ERROR", "cannot read kernel")
    assert error.fields == {"path": f"\\{FOLDER}\\{FOLDER_KERNEL}", "status": "is-a-directory"}


def test_the_real_kernel_is_accepted(built):
    accepted = verdicts(checked_kernels())[GOOD_KERNEL]
    assert (accepted.level, accepted.event) == ("INFO", "kernel.elf accepted")
    elf = read_elf(kernel_bytes())
    assert int(accepted.fields["entry"], 16) == elf.entry
    assert int(accepted.fields["segments"]) == len(elf.loads)
    base = min(s.vaddr for s in elf.loads) & ~(PAGE - 1)
    top = -(-max(s.vaddr + s.memsz for s in elf.loads) // PAGE) * PAGE
    assert int(accepted.fields["span"], 16) == top - base


@pytest.mark.parametrize("name", list(BAD_KERNELS))
def test_malformed_kernel_is_rejected_by_name(built, name):
    _, field, value, rule = BAD_KERNELS[name]
    error = verdicts(checked_kernels())[name]
    assert (error.level, error.event) == ("ERROR", "kernel.elf rejected")
    assert error.fields["field"] == field
    if value is not None:
        assert error.fields["value"] == value
    if rule is not None:
        assert error.fields["rule"] == rule
    if name == "empty-text.elf":
        assert error.fields["value"] == entry(kernel_bytes())


# ---------------------------------------------------------------------------
# One bad input, the way a reader meets it
# ---------------------------------------------------------------------------

class TestOneBadInputEndsTheBoot:
    def test_garbage_kernel(self, built):
        result = harness.boot(harness.BootConfig(CHAPTER, esp_files={"kernel.elf": GARBAGE}, timeout=60))
        errors = assert_boot_stopped(result)
        assert len(errors) == 2, [str(e) for e in errors]
        assert errors[0].event == "kernel.elf rejected"
        assert (errors[0].fields["path"], errors[0].fields["field"]) == ("\\kernel.elf", "e_ident.magic")

    def test_missing_kernel(self, built):
        # No cmdline.txt either: that file is optional, so its absence must pass
        # as an empty command line before the missing kernel stops the boot.
        result = harness.boot(harness.BootConfig(CHAPTER, esp_files={"kernel.elf": None, "cmdline.txt": None},
                                                 timeout=60))
        error = assert_boot_stopped(result)[0]
        assert error.event == "cannot read kernel"
        assert error.fields == {"path": "\\kernel.elf", "status": "not-found"}
        assert result.record("loader", "command line").fields["text"] == ""

    def test_overlong_command_line(self, built):
        result = harness.boot(harness.BootConfig(CHAPTER, esp_files={"cmdline.txt": b"x" * 300}, timeout=60))
        error = assert_boot_stopped(result)[0]
        assert error.event == "command line rejected"
        assert (error.fields["field"], error.fields["value"]) == ("cmdline.txt", "300")
