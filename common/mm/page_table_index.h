// PageTableLevel and PageTableIndex: which table, and which of its 512 slots.
//
// Every piece of code that walks tables asks index_at() for the slot of an
// address at a level, so the 9-bit fields of a linear address are cut in one
// place (it builds on the per-level helpers the loader uses in paging_bits.h).
#pragma once

#include <stdint.h>

#include "arch/x86/paging_bits.h"
#include "mm/page_size.h"
#include "support/assert.h"
#include "mm/virt_addr.h"

namespace mm {

// The four levels of 4-level paging, numbered as the SDM counts them from the
// leaf up (SDM Vol. 3A, 4.5: PML4 table, page-directory-pointer table, page
// directory, page table).
enum class PageTableLevel : uint8_t {
    kPml4 = 4,
    kPdpt = 3,
    kPd = 2,
    kPt = 1,
};

// The level whose tables the entries of `level` point to.
constexpr PageTableLevel next_lower(PageTableLevel level) {
    KASSERT(level != PageTableLevel::kPt);
    return static_cast<PageTableLevel>(static_cast<uint8_t>(level) - 1);
}

// How much address space one entry of a table at `level` covers:
// 4 KiB, 2 MiB, 1 GiB, 512 GiB.
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

// The page an entry at `level` maps when it is a leaf. A PML4 entry never is:
// its PS bit is reserved (SDM Vol. 3A, 4.5, Table 4-15).
constexpr PageSize leaf_page_size(PageTableLevel level) {
    KASSERT(level != PageTableLevel::kPml4);
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

// The slot that translates `va` in the table at `level`.
constexpr PageTableIndex index_at(VirtAddr va, PageTableLevel level) {
    switch (level) {
        case PageTableLevel::kPml4: return PageTableIndex(x86::pte::pml4_index(va.value()));
        case PageTableLevel::kPdpt: return PageTableIndex(x86::pte::pdpt_index(va.value()));
        case PageTableLevel::kPd: return PageTableIndex(x86::pte::pd_index(va.value()));
        case PageTableLevel::kPt: return PageTableIndex(x86::pte::pt_index(va.value()));
    }
    return PageTableIndex(0);
}

static_assert(entry_span(PageTableLevel::kPt) == bytes(PageSize::k4KiB) &&
              entry_span(PageTableLevel::kPd) == bytes(PageSize::k2MiB) &&
              entry_span(PageTableLevel::kPdpt) == bytes(PageSize::k1GiB) &&
              entry_span(PageTableLevel::kPml4) == 512 * GiB);
static_assert(leaf_page_size(leaf_level(PageSize::k2MiB)) == PageSize::k2MiB);
static_assert(index_at(VirtAddr(0xFFFF'FFFF'8000'0000ull), PageTableLevel::kPml4).value() == 511 &&
              index_at(VirtAddr(0xFFFF'FFFF'8000'0000ull), PageTableLevel::kPdpt).value() == 510 &&
              index_at(VirtAddr(0xFFFF'FFFF'8020'3000ull), PageTableLevel::kPd).value() == 1 &&
              index_at(VirtAddr(0xFFFF'FFFF'8020'3000ull), PageTableLevel::kPt).value() == 3);

}  // namespace mm
