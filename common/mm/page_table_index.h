// PageTableLevel and PageTableIndex: which table, and which of its 512 slots.
//
// Every piece of code that walks tables asks index_at() for the slot of an
// address at a level, so the 9-bit fields of a linear address are cut in one
// place (static_asserts hold it to the loader's per-level helpers in
// paging_bits.h).
#pragma once

#include <stdint.h>

#include "arch/x86/paging_bits.h"
#include "mm/page_size.h"
#include "mm/paging_depth.h"
#include "support/assert.h"
#include "mm/virt_addr.h"

namespace mm {

// The levels of 4-level paging, and the PML5 that 5-level paging puts on top,
// numbered as the SDM counts them from the leaf up (SDM Vol. 3A, 4.5: PML5
// table, PML4 table, page-directory-pointer table, page directory, page table).
enum class PageTableLevel : uint8_t {
    kPml5 = 5,
    kPml4 = 4,
    kPdpt = 3,
    kPd = 2,
    kPt = 1,
};

// The table CR3 names: a PML4 at 4 levels, a PML5 at 5.
constexpr PageTableLevel root_level(PagingDepth depth) { return static_cast<PageTableLevel>(levels(depth)); }

// The level whose tables the entries of `level` point to.
constexpr PageTableLevel next_lower(PageTableLevel level) {
    KASSERT(level != PageTableLevel::kPt);
    return static_cast<PageTableLevel>(static_cast<uint8_t>(level) - 1);
}

// How much address space one entry of a table at `level` covers:
// 4 KiB, 2 MiB, 1 GiB, 512 GiB, and 256 TiB for a PML5 entry.
constexpr uint64_t entry_span(PageTableLevel level) {
    return kPageSize << (9 * (static_cast<uint8_t>(level) - 1));
}

// Where a page of `size` lives: a PTE, a PDE with PS, a PDPTE with PS.
constexpr PageTableLevel leaf_level(PageSize size) {
    switch (size) {
        case PageSize::k4KiB: return PageTableLevel::kPt;
        case PageSize::k2MiB: return PageTableLevel::kPd;
        case PageSize::k1GiB: return PageTableLevel::kPdpt;
    }
    return PageTableLevel::kPt;
}

// Whether an entry at `level` may map a page itself. A PML4 or PML5 entry
// never may: its PS bit is reserved (SDM Vol. 3A, 4.5, Table 4-15).
constexpr bool can_be_leaf(PageTableLevel level) { return level <= PageTableLevel::kPdpt; }

// The page an entry at `level` maps when it is a leaf.
constexpr PageSize leaf_page_size(PageTableLevel level) {
    KASSERT(can_be_leaf(level));
    return static_cast<PageSize>(entry_span(level));
}

class PageTableIndex {
public:
    static constexpr unsigned kCount = x86::pte::kEntriesPerTable;

    constexpr explicit PageTableIndex(unsigned value) : value_(value) { KASSERT(value < kCount); }

    constexpr unsigned value() const { return value_; }
    constexpr bool operator==(const PageTableIndex&) const = default;

private:
    unsigned value_;
};

// The slot that translates `va` in the table at `level`: the 9 bits above
// the span of one of its entries (bits 20:12 for a PT … 56:48 for a PML5).
constexpr PageTableIndex index_at(VirtAddr va, PageTableLevel level) {
    const unsigned lowest_bit = 12 + 9 * (static_cast<unsigned>(level) - 1);  // log2(entry_span(level))
    return PageTableIndex((va.value() >> lowest_bit) & (PageTableIndex::kCount - 1));
}

static_assert(entry_span(PageTableLevel::kPt) == bytes(PageSize::k4KiB) &&
              entry_span(PageTableLevel::kPd) == bytes(PageSize::k2MiB) &&
              entry_span(PageTableLevel::kPdpt) == bytes(PageSize::k1GiB) &&
              entry_span(PageTableLevel::kPml4) == 512 * GiB &&
              entry_span(PageTableLevel::kPml5) == 256 * 1024 * GiB);
static_assert(root_level(PagingDepth::kFourLevel) == PageTableLevel::kPml4 &&
              root_level(PagingDepth::kFiveLevel) == PageTableLevel::kPml5);
// One root entry spans everything below the sign bit's half: 2^48 / 2^57 bytes over 512 entries.
static_assert(entry_span(root_level(PagingDepth::kFourLevel)) * 512 == uint64_t(1) << translated_bits(PagingDepth::kFourLevel) &&
              entry_span(root_level(PagingDepth::kFiveLevel)) * 512 == uint64_t(1) << translated_bits(PagingDepth::kFiveLevel));
static_assert(!can_be_leaf(PageTableLevel::kPml5) && !can_be_leaf(PageTableLevel::kPml4) && can_be_leaf(PageTableLevel::kPdpt));
static_assert(leaf_page_size(leaf_level(PageSize::k2MiB)) == PageSize::k2MiB);
static_assert(index_at(VirtAddr(0xFFFF'FFFF'8000'0000ull), PageTableLevel::kPml4).value() == 511 &&
              index_at(VirtAddr(0xFFFF'FFFF'8000'0000ull), PageTableLevel::kPdpt).value() == 510 &&
              index_at(VirtAddr(0xFFFF'FFFF'8020'3000ull), PageTableLevel::kPd).value() == 1 &&
              index_at(VirtAddr(0xFFFF'FFFF'8020'3000ull), PageTableLevel::kPt).value() == 3);
// The same cuts as the loader's per-level helpers (paging_bits.h), so the two
// cannot disagree, on an address whose five indices all differ (300, 17, 42, 99, 7).
namespace detail {
inline constexpr uint64_t kDistinctIndices = 0x012C'088A'8C60'7000ull;
}  // namespace detail
static_assert(index_at(VirtAddr(detail::kDistinctIndices), PageTableLevel::kPml5).value() == x86::pte::pml5_index(detail::kDistinctIndices) &&
              index_at(VirtAddr(detail::kDistinctIndices), PageTableLevel::kPml4).value() == x86::pte::pml4_index(detail::kDistinctIndices) &&
              index_at(VirtAddr(detail::kDistinctIndices), PageTableLevel::kPdpt).value() == x86::pte::pdpt_index(detail::kDistinctIndices) &&
              index_at(VirtAddr(detail::kDistinctIndices), PageTableLevel::kPd).value() == x86::pte::pd_index(detail::kDistinctIndices) &&
              index_at(VirtAddr(detail::kDistinctIndices), PageTableLevel::kPt).value() == x86::pte::pt_index(detail::kDistinctIndices));
static_assert(x86::pte::pml5_index(detail::kDistinctIndices) == 300 && x86::pte::pt_index(detail::kDistinctIndices) == 7);
static_assert(index_at(VirtAddr(0xFFFF'FFFF'8000'0000ull), PageTableLevel::kPml5).value() == 511 &&
              index_at(VirtAddr(0xFF00'0000'0000'0000ull), PageTableLevel::kPml5).value() == 256 &&
              index_at(VirtAddr(0x00FF'8000'0000'0000ull), PageTableLevel::kPml5).value() == 255 &&
              index_at(VirtAddr(0x00FF'8000'0000'0000ull), PageTableLevel::kPml4).value() == 256);

}  // namespace mm
