// PageTableEntry and PageTable: the 8-byte entry as a value type, and the
// 4 KiB table of 512 of them, laid out exactly as the CPU reads them.
//
// Bits are read through named accessors (SDM names in the comments) and an
// entry is written in one call that checks the address against the level, so a
// 2 MiB page at an address that is only 4 KiB-aligned is caught where it is made.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/paging_bits.h"
#include "mm/page_table_index.h"
#include "mm/phys_addr.h"
#include "support/assert.h"

namespace mm {

class PageTableEntry {
public:
    constexpr PageTableEntry() = default;
    static constexpr PageTableEntry from_raw(uint64_t raw) { return PageTableEntry(raw); }

    constexpr uint64_t raw() const { return raw_; }

    constexpr bool present() const { return has(x86::pte::kPresent); }             // P
    constexpr bool writable() const { return has(x86::pte::kWritable); }           // R/W
    constexpr bool user() const { return has(x86::pte::kUser); }                   // U/S
    constexpr bool write_through() const { return has(x86::pte::kWriteThrough); }  // PWT
    constexpr bool cache_disable() const { return has(x86::pte::kCacheDisable); }  // PCD
    constexpr bool accessed() const { return has(x86::pte::kAccessed); }           // A
    constexpr bool dirty() const { return has(x86::pte::kDirty); }                 // D, leaves only
    // PS: a leaf above the PT level. Meaningless in a PTE, where bit 7 is PAT.
    constexpr bool huge() const { return has(x86::pte::kHugePage); }
    constexpr bool global() const { return has(x86::pte::kGlobal); }               // G, leaves only
    constexpr bool no_execute() const { return has(x86::pte::kNoExecute); }        // XD

    // Bits 12..51 only: never the NX bit, never truncated to 32 bits. Exact for
    // a table pointer and a PTE; for a 2 MiB or 1 GiB leaf, where bit 12 is
    // PAT, ask page_address().
    constexpr PhysAddr address() const { return PhysAddr(raw_ & x86::pte::kAddressMask); }

    // The frame or page this entry names, read as an entry at `level`.
    constexpr PhysAddr page_address(PageTableLevel level) const {
        return is_large_leaf(level) ? PhysAddr(align_down(address().value(), entry_span(level))) : address();
    }

    // Everything that is not the address, read as an entry at `level` (a large
    // leaf keeps its PAT bit 12): what flags_summary() renders.
    constexpr uint64_t flags(PageTableLevel level) const { return raw_ & ~address_bits(level, raw_); }

    // A leaf at `level` when `flags` has PS (or level is the PT), otherwise a
    // pointer to the next table. The address must be aligned to what it maps:
    // the low bits of a 2 MiB or 1 GiB leaf's address field are reserved or
    // PAT (SDM Vol. 3A, 4.5, Tables 4-16 and 4-18), a table is one 4 KiB frame.
    constexpr void set(PageTableLevel level, PhysAddr address, uint64_t flags) {
        KASSERT(!(level >= PageTableLevel::kPml4 && (flags & x86::pte::kHugePage)));  // PS is reserved in a PML4E and a PML5E
        KASSERT((flags & address_bits(level, flags)) == 0);
        KASSERT((address.value() & ~x86::pte::kAddressMask) == 0);  // 4 KiB-aligned and below 2^52
        const bool large_leaf = level != PageTableLevel::kPt && (flags & x86::pte::kHugePage) != 0;
        KASSERT(address.is_aligned(large_leaf ? entry_span(level) : kPageSize));
        raw_ = address.value() | flags;
    }
    constexpr void clear() { raw_ = 0; }

    constexpr bool operator==(const PageTableEntry&) const = default;

private:
    constexpr explicit PageTableEntry(uint64_t raw) : raw_(raw) {}
    constexpr bool has(uint64_t bit) const { return (raw_ & bit) != 0; }
    constexpr bool is_large_leaf(PageTableLevel level) const {
        return level != PageTableLevel::kPt && huge();
    }
    // The bits of the address field at `level` for an entry holding `bits`:
    // in a large leaf, bit 12 is PAT, not address.
    static constexpr uint64_t address_bits(PageTableLevel level, uint64_t bits) {
        const bool large_leaf = level != PageTableLevel::kPt && (bits & x86::pte::kHugePage) != 0;
        return large_leaf ? x86::pte::kAddressMask & ~x86::pte::kPatHuge : x86::pte::kAddressMask;
    }

    uint64_t raw_ = 0;
};

// One table at any level: 512 entries filling one 4 KiB frame, which CR3 and
// every non-leaf entry name by its physical address (SDM Vol. 3A, 4.5).
struct alignas(4096) PageTable {
    PageTableEntry entries[PageTableIndex::kCount];

    PageTableEntry& operator[](PageTableIndex index) { return entries[index.value()]; }
    const PageTableEntry& operator[](PageTableIndex index) const { return entries[index.value()]; }
};

static_assert(sizeof(PageTableEntry) == 8 && alignof(PageTableEntry) == 8);
static_assert(sizeof(PageTable) == kPageSize && alignof(PageTable) == kPageSize);

// Renders the flags of an entry at `level` as SDM abbreviations joined by '|',
// in a fixed order, e.g. "P|RW|NX|PCD|PWT" (an entry with no flags is "-").
// Bit 7 reads PS above the PT level and PAT in a PTE. Always NUL-terminates;
// returns the length written, cut short if `capacity` is too small.
inline constexpr size_t kFlagsSummaryCapacity = sizeof("P|RW|US|NX|PCD|PWT|PAT|PS|G|A|D");
size_t flags_summary(uint64_t flags, PageTableLevel level, char* buffer, size_t capacity);

}  // namespace mm
