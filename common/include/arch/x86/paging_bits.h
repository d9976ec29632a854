// Bits of a 4-level page-table entry (SDM Vol. 3A, 4.5, Tables 4-15 to 4-20).
//
// Defined once here for the loader's bootstrap tables and the kernel's own
// page-table code, so the two can never disagree about a bit.
#pragma once

#include <stdint.h>

namespace x86::pte {

inline constexpr uint64_t kPresent = 1ull << 0;       // P
inline constexpr uint64_t kWritable = 1ull << 1;      // R/W
inline constexpr uint64_t kUser = 1ull << 2;          // U/S
inline constexpr uint64_t kWriteThrough = 1ull << 3;  // PWT
inline constexpr uint64_t kCacheDisable = 1ull << 4;  // PCD
inline constexpr uint64_t kAccessed = 1ull << 5;      // A
inline constexpr uint64_t kDirty = 1ull << 6;         // D
inline constexpr uint64_t kHugePage = 1ull << 7;      // PS: in a PDPTE (1 GiB) or PDE (2 MiB)
inline constexpr uint64_t kGlobal = 1ull << 8;        // G
inline constexpr uint64_t kPat4K = 1ull << 7;         // PAT bit of a 4 KiB PTE (same position as PS)
inline constexpr uint64_t kPatHuge = 1ull << 12;      // PAT bit of a 2 MiB / 1 GiB entry
inline constexpr uint64_t kNoExecute = 1ull << 63;    // XD/NX, legal only with EFER.NXE

// Physical-address field: bits 12..51. Masking with 0xFFFFF000 instead would
// truncate every address above 4 GiB; keeping bit 63 would leak NX into it.
inline constexpr uint64_t kAddressMask = 0x000F'FFFF'FFFF'F000ull;

inline constexpr unsigned kEntriesPerTable = 512;

// Index of `va` in the table at each level: 9 bits each, from bit 48 (PML5,
// 5-level paging only) and bit 39 (PML4) down to bit 12 (PT).
constexpr unsigned pml5_index(uint64_t va) { return (va >> 48) & 0x1FF; }
constexpr unsigned pml4_index(uint64_t va) { return (va >> 39) & 0x1FF; }
constexpr unsigned pdpt_index(uint64_t va) { return (va >> 30) & 0x1FF; }
constexpr unsigned pd_index(uint64_t va) { return (va >> 21) & 0x1FF; }
constexpr unsigned pt_index(uint64_t va) { return (va >> 12) & 0x1FF; }

static_assert(pml4_index(0xFFFF'FFFF'8000'0000ull) == 511 && pdpt_index(0xFFFF'FFFF'8000'0000ull) == 510);
static_assert(pml5_index(0xFFFF'FFFF'8000'0000ull) == 511 && pml5_index(0x0080'0000'0000'0000ull) == 128);

}  // namespace x86::pte
