// Validating the kernel's ELF file before a single byte of it is trusted.
//
// Pure code over a byte buffer: no firmware calls, so the same function runs in
// the loader, in the host unit tests and under a fuzzer. The first rule a file
// breaks is returned as (field, value, rule), which the loader prints as
//
//   [ERROR loader] kernel.elf rejected field=e_machine value=0x3 rule="must be EM_X86_64 (0x3e)"
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "support/elf64.h"
#include "support/violation.h"

namespace boot::elf {

// The kernel must live in the upper canonical half (DESIGN.md, "Address space").
inline constexpr uint64_t kHigherHalfBase = 0xFFFF'8000'0000'0000ull;
// Bounds that reject absurd files before they can ask for absurd memory:
// an "enormous .bss" is refused here, not by an allocation failure later.
inline constexpr uint64_t kMaxImageSpan = 64ull * 1024 * 1024;
inline constexpr uint16_t kMaxProgramHeaders = 64;
inline constexpr size_t kMaxLoadSegments = 16;

// Program-header flags (ELF gABI; support/elf64.h).
inline constexpr uint32_t kSegmentExecutable = elf64::kPfExecutable;
inline constexpr uint32_t kSegmentWritable = elf64::kPfWritable;
inline constexpr uint32_t kSegmentReadable = elf64::kPfReadable;

struct LoadSegment {
    uint64_t virtual_address;
    uint64_t file_offset;
    uint64_t file_size;
    uint64_t memory_size;  // >= file_size; the rest is .bss, zeroed by the loader
    uint32_t flags;        // PF_*
};

// What the loader needs to place the image: segments sorted by address, and the
// page-aligned span [virtual_base, virtual_base + span) that covers them all.
struct KernelImageLayout {
    uint64_t entry;
    uint64_t virtual_base;
    uint64_t span;
    size_t segment_count;
    LoadSegment segments[kMaxLoadSegments];
    // The paging depths the kernel says it follows (boot/kernel_note.h): bit
    // N = N levels. Four unless a KernelBook note says more (chapter 16).
    uint32_t paging_levels;
};

using ::Violation;

Violation parse_kernel_elf(const uint8_t* file, uint64_t file_size, KernelImageLayout* layout);

}  // namespace boot::elf
