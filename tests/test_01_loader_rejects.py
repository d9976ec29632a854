"""Chapter 01: the loader refuses bad input by name, and exits with the failure code.

Each case boots real firmware with one thing broken on the ESP, and expects one
`[ERROR loader]` line naming the field, then QEMU's failure exit status. The
cases are spread over classes so pytest-xdist runs them in parallel.
"""

from __future__ import annotations

import harness
from harness.elf import E_MACHINE_OFFSET, PF_R, PF_W, PF_X, patched, program_header_offset

CHAPTER = "01-boot"


def kernel_bytes() -> bytes:
    return harness.chapter_kernel(CHAPTER).read_bytes()


def boot_expecting_rejection(esp_files: dict) -> harness.log.LogRecord:
    result = harness.boot(harness.BootConfig(CHAPTER, esp_files=esp_files, timeout=60))
    harness.assert_outcome(result, "failure")
    errors = [r for r in result.records if r.level == "ERROR"]
    assert errors, "no ERROR line before the failure exit"
    assert errors[-1].event == "boot stopped" and errors[-1].fields["exit"] == "failure"
    assert not result.records_for("kernel"), "the kernel must never start"
    return errors[0]


class TestMissingOrGarbageKernel:
    def test_missing_kernel(self, built):
        error = boot_expecting_rejection({"kernel.elf": None})
        assert error.event == "cannot read kernel"
        assert error.fields == {"path": "\\kernel.elf", "status": "not-found"}

    def test_garbage_kernel(self, built):
        error = boot_expecting_rejection({"kernel.elf": b"this is not an ELF file at all" * 10})
        assert error.event == "kernel.elf rejected"
        assert error.fields["field"] == "e_ident.magic"
        assert error.fields["value"] == "0x73696874"  # "this", little-endian


class TestCorruptedHeaders:
    def test_wrong_machine(self, built):
        error = boot_expecting_rejection({"kernel.elf": patched(kernel_bytes(), E_MACHINE_OFFSET, "H", 3)})
        assert (error.fields["field"], error.fields["value"]) == ("e_machine", "0x3")
        assert error.fields["rule"] == "must be EM_X86_64 (0x3e)"

    def test_truncated_program_headers(self, built):
        error = boot_expecting_rejection({"kernel.elf": kernel_bytes()[:100]})
        assert (error.fields["field"], error.fields["value"]) == ("e_phoff", "0x40")


class TestUnsafeSegments:
    def test_writable_and_executable_text(self, built):
        data = kernel_bytes()
        flags_offset = program_header_offset(data, 0) + 4  # p_flags of the text segment
        error = boot_expecting_rejection({"kernel.elf": patched(data, flags_offset, "I", PF_R | PF_W | PF_X)})
        assert (error.fields["field"], error.fields["value"]) == ("p_flags", "0x7")

    def test_overlong_command_line(self, built):
        error = boot_expecting_rejection({"cmdline.txt": b"x" * 300})
        assert error.event == "command line rejected"
        assert (error.fields["field"], error.fields["value"]) == ("cmdline.txt", "300")


P_VADDR, P_MEMSZ = 16, 40  # offsets inside an ELF64 program header


class TestHostileLayouts:
    """Segments a linker would never produce, made by patching a real kernel."""

    def test_segment_in_the_low_half(self, built):
        data = kernel_bytes()
        low_half = patched(data, program_header_offset(data, 0) + P_VADDR, "Q", 0x40_0000)
        error = boot_expecting_rejection({"kernel.elf": low_half})
        assert (error.fields["field"], error.fields["value"]) == ("p_vaddr", "0x400000")
        assert error.fields["rule"] == "must be in the higher half (>= 0xffff800000000000)"

    def test_overlapping_segments(self, built):
        data = kernel_bytes()
        text_vaddr = int.from_bytes(data[program_header_offset(data, 0) + P_VADDR:][:8], "little")
        overlapping = patched(data, program_header_offset(data, 1) + P_VADDR, "Q", text_vaddr)
        error = boot_expecting_rejection({"kernel.elf": overlapping})
        assert error.fields["field"] == "p_vaddr"
        assert error.fields["rule"] == "PT_LOAD segments must not overlap or share a 4KiB page"

    def test_enormous_bss(self, built):
        data = kernel_bytes()
        huge_bss = patched(data, program_header_offset(data, 2) + P_MEMSZ, "Q", 1 << 40)
        error = boot_expecting_rejection({"kernel.elf": huge_bss})
        assert (error.fields["field"], error.fields["value"]) == ("p_memsz", hex(1 << 40))
        assert error.fields["rule"] == "must be at most 64MiB"
