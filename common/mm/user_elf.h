// The user-ELF reader (chapter 12 on): what a boot module must be before the
// kernel maps a byte of it into a process.
//
// Pure code over a byte buffer, like the loader's kernel check
// (boot/elf_image.h), so the host tests go through it rule by rule and a
// fuzzer feeds it garbage. The first rule a file breaks comes back as a
// Violation (field, value, rule), which the kernel logs as
//
//   [WARN  user] rejected name=broken.elf field=e_machine value=0x3 rule="must be EM_X86_64 (0x3e)"
//
// and goes on to the next program. What it accepts is what the process
// builder needs: the entry, and at most eight PT_LOAD segments, sorted,
// page-aligned, each inside [kUserLowest, kUserImageLimit), never writable
// and executable at once, no two sharing a page; an executable one starts on
// a page of the file and has no bss, because it is mapped from the file's
// frames in place.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/user_layout.h"
#include "support/violation.h"

namespace mm {

inline constexpr size_t kMaxUserSegments = 8;
inline constexpr uint64_t kMaxUserSegmentBytes = 64 * MiB;  // no "1 TiB .bss" asks for every frame there is

// Right of one segment, from its p_flags.
enum class SegmentRights : uint8_t { kReadExecute, kReadOnly, kReadWrite };
const char* segment_rights_name(SegmentRights rights);  // "r-x", "r--", "rw-"

struct UserSegment {
    uint64_t virtual_address;  // 4 KiB aligned
    uint64_t file_offset;
    uint64_t file_size;
    uint64_t memory_size;      // >= file_size; the rest is zeroed
    SegmentRights rights;
};

struct UserImage {
    uint64_t entry;
    size_t segment_count;
    UserSegment segments[kMaxUserSegments];
};

Violation parse_user_elf(const uint8_t* file, uint64_t file_size, UserImage* image);

}  // namespace mm
