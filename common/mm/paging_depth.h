// PagingDepth: how many levels of tables translate an address space, 4 or 5.
//
// 4-level paging translates 48 bits of a linear address, 5-level paging
// (CR4.LA57) 57: one more 9-bit index on top, for the PML5 (SDM Vol. 3A, 4.5
// "4-Level Paging and 5-Level Paging"). The depth is a property of the address
// space being built or walked, not of the code that builds or walks it: the
// builder, the walker and the audit carry one, and every caller that says
// nothing gets the 4 levels the chapters up to 15 build. Like PageSize, the
// enumerator's value *is* the number it names, here the number of levels.
#pragma once

#include <stdint.h>

namespace mm {

enum class PagingDepth : uint8_t {
    kFourLevel = 4,
    kFiveLevel = 5,
};

constexpr unsigned levels(PagingDepth depth) { return static_cast<unsigned>(depth); }

// The deepest address space any code here handles: what per-level arrays hold.
inline constexpr unsigned kMaxPagingLevels = levels(PagingDepth::kFiveLevel);

// How many low bits of a linear address the tables translate: the 12-bit page
// offset plus 9 bits per level. The bits above must copy the top one
// (VirtAddr::is_canonical).
constexpr unsigned translated_bits(PagingDepth depth) { return 12 + 9 * levels(depth); }

// "4-level" / "5-level", for log lines and test names.
constexpr const char* name(PagingDepth depth) {
    return depth == PagingDepth::kFiveLevel ? "5-level" : "4-level";
}

static_assert(translated_bits(PagingDepth::kFourLevel) == 48 && translated_bits(PagingDepth::kFiveLevel) == 57);

}  // namespace mm
