// UserRegions: what a process may touch, and what backs it (chapter 13 on).
//
// Chapter 12 mapped every page of a program before it ran. From chapter 13
// the page tables only cache what this list promises: each region is a
// page-aligned range [start, end) with rights (read always; write, execute
// at most one of them, W^X; execute only for a file region, whose frames are
// the module's, read-only everywhere) and a kind that says where a page's first bytes
// come from when the program first touches it:
//
//   anonymous  zeroes (mmap)
//   stack      zeroes; the region grows down on a fault below it, to its
//              grow limit, and kStackGuardGap below that stays free
//   file       the boot module's bytes from file_offset, zeroes after
//              file_bytes (the ELF's segments: text, rodata, data and bss)
//
// The list is sorted and disjoint, where a stack counts from its guard gap
// up (reserved_start()), so no mmap lands where the stack would grow. It is
// a fixed array: pure code over plain values, host-tested and fuzzed
// (tests/host/user_regions_test.cpp, tests/fuzz/user_regions_fuzz.cpp).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/user_layout.h"

namespace mm {

// book:begin region-layout
// mmap without MAP_FIXED looks for room from here up: 64 GiB, 1 GiB aligned,
// far above any ELF (user.ld links at 4 MiB).
inline constexpr uint64_t kMmapBase = 0x10'0000'0000;
// The stack may grow to this size, and no region may start within this gap
// below its limit: a runaway stack meets unmapped pages, not someone's data
// (Linux's default stack_guard_gap is 256 pages, 1 MiB, for the same reason).
inline constexpr uint64_t kUserStackMax = 256 * KiB;
inline constexpr uint64_t kStackGuardGap = 1 * MiB;
inline constexpr size_t kMaxUserRegions = 32;
static_assert(kMmapBase % GiB == 0 && kMmapBase > kUserLowest.value());
static_assert(kUserStackTop.value() - kUserStackMax - kStackGuardGap > kUserImageLimit.value());
// book:end region-layout

// Rights, as PROT_* bits (abi/memory_syscalls.h uses the same values).
namespace region_rights {
inline constexpr uint8_t kRead = 1, kWrite = 2, kExecute = 4;
}  // namespace region_rights
const char* rights_name(uint8_t rights);  // "r--", "rw-", "r-x"

enum class RegionKind : uint8_t { kAnonymous, kStack, kFile };
const char* region_kind_name(RegionKind kind);  // "anonymous", "stack", "file"

// book:begin user-region
struct UserRegion {
    uint64_t start = 0, end = 0;  // page-aligned, start < end
    uint8_t rights = 0;           // region_rights bits; kRead always
    RegionKind kind = RegionKind::kAnonymous;
    uint64_t file_offset = 0;     // kFile: where byte `start` is in the module
    uint64_t file_bytes = 0;      // kFile: bytes of the file from `start`; zeroes after
    uint64_t grow_limit = 0;      // kStack: the lowest `start` may grow down to
    bool text = false;            // kFile: from an executable segment, served from the module's own
                                  //   read-only frames; the only region that may ever be executable

    uint64_t reserved_start() const { return kind == RegionKind::kStack ? grow_limit - kStackGuardGap : start; }
    bool contains(uint64_t va) const { return start <= va && va < end; }
};
// book:end user-region

enum class [[nodiscard]] RegionStatus : uint8_t {
    kOk,
    kMisaligned,      // start or end not on a 4 KiB boundary
    kEmpty,           // start >= end
    kOutsideUser,     // below kUserLowest or above kUserLimit
    kBadRights,       // no read, or write with execute
    kExecuteNotFile,  // execute on anything but a file region (the program's text)
    kOverlaps,        // meets another region (a stack's guard gap included)
    kFull,            // kMaxUserRegions already, or a split would need one more
    kNotCovered,      // mprotect: part of the range has no region
    kStackRange,      // munmap/mprotect on a stack or its gap
    kFileWritable,    // mprotect: a file region may not become writable
    kNoRoom,          // no gap large enough for a kernel-chosen address
};
const char* describe(RegionStatus status);

class UserRegions {
public:
    // Adds `region` as it is, or names why not (nothing changes on refusal).
    RegionStatus add(const UserRegion& region);

    // The region holding `va`, or nullptr.
    const UserRegion* find(uint64_t va) const;
    // The stack region whose growth room [grow_limit, start) holds `va`, or nullptr.
    const UserRegion* stack_growing_to(uint64_t va) const;
    // The stack region whose guard gap holds `va`, or nullptr.
    const UserRegion* stack_guarding(uint64_t va) const;

    // Moves the stack region holding `stack_start` down to `new_start`
    // (page-aligned, within its growth room).
    void grow_stack(uint64_t stack_start, uint64_t new_start);

    // Removes [start, end) from every region it meets, splitting where it
    // cuts one in two. Unmapped parts are fine (POSIX munmap); a stack is not.
    RegionStatus remove(uint64_t start, uint64_t end);

    // Gives [start, end) `rights`, splitting at its ends. Every page must be
    // in a region (POSIX mprotect: ENOMEM otherwise), none a stack's, a file
    // region may not become writable (its text is the module's frame) and
    // nothing else executable.
    RegionStatus protect(uint64_t start, uint64_t end, uint8_t rights);

    // The lowest page-aligned start at or above kMmapBase where `bytes` fit
    // before kUserLimit without meeting a region; 0 if none.
    uint64_t find_free(uint64_t bytes) const;

    size_t count() const { return count_; }
    const UserRegion& operator[](size_t i) const { return regions_[i]; }

    // Sorted, disjoint (reserved ranges included), each region valid.
    bool consistent() const;

private:
    RegionStatus check_shape(const UserRegion& region) const;
    RegionStatus split_at(uint64_t va);  // makes `va` a region boundary, if it lies inside one
    void insert_at(size_t index, const UserRegion& region);
    void erase_at(size_t index);
    void merge_anonymous_neighbours();

    UserRegion regions_[kMaxUserRegions];
    size_t count_ = 0;
};

}  // namespace mm
