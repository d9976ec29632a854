// PageTableWalker: one read of a whole set of 4-level (or 5-level) page
// tables, every level and every page size, reported to a visitor; and
// translate(va), the same walk for one address.
//
// The walker reaches tables through PhysicalMemoryAccess (the phys-offset
// window in the kernel, a buffer in host tests) and decides nothing: it says
// what it found, in address order, and the visitor judges. Chapter 09's audit
// (address_space_audit.h) and its address-space report
// (address_space_report.h) are two such visitors.
//
//   for each table, root first:  enter_table(frame, level, first va)  -> false: skip it
//     each present entry with PS (or in a PT):  leaf(va, pa, size, flags, ...)
//     each present entry without PS:            the table below, depth first
//     each non-present entry that is not 0:     stray_entry(kNotPresentNonZero)
//     a PML4 entry with PS (reserved there):    stray_entry(kPsInPml4e)
//     a PML5 entry with PS (reserved there):    stray_entry(kPsInPml5e)
//
// The root is the PML4, or the PML5 when the walker is told the address
// space has 5 levels (PagingDepth): the depth decides where the walk starts
// and how an entry's address is sign-extended into a canonical one.
//
// Access rights combine across the levels, the most restrictive wins (SDM
// Vol. 3A, 4.6): a page is writable only if R/W is set in every entry on its
// path, user-accessible only if U/S is, and not executable if any entry has
// XD. A Leaf carries the entries above it combined both ways, so a visitor can
// ask what the CPU grants (effective_flags) or whether any entry on the way
// carries a bit at all.
#pragma once

#include <stdint.h>

#include "arch/x86/paging_bits.h"
#include "mm/page_size.h"
#include "mm/page_table_entry.h"
#include "mm/page_table_index.h"
#include "mm/paging_depth.h"
#include "mm/phys_addr.h"
#include "mm/physical_memory.h"
#include "mm/virt_addr.h"

namespace mm {

// A page the tables map: one leaf entry.
struct Leaf {
    VirtAddr va;              // the page's first address
    PhysAddr pa;              // the page's first physical address
    PageSize size;
    PageTableLevel level;     // kPt, kPd (2 MiB) or kPdpt (1 GiB)
    uint64_t flags;           // the leaf entry's own flags at its level (PS, PAT at bit 12 for a large leaf)
    uint64_t above_and;       // flags of the entries above it, ANDed (which rights every level grants)
    uint64_t above_or;        // ... ORed (which bits any level carries)
    PhysAddr table;           // the table that holds the leaf entry
    PageTableEntry* entry;    // the live entry

    VirtAddr end() const { return va + bytes(size); }
};

// What the CPU grants for `leaf`, SDM Vol. 3A 4.6: R/W and U/S only when every
// level has them, XD when any level has it; the rest is the leaf's own.
constexpr uint64_t effective_flags(const Leaf& leaf) {
    namespace pte = x86::pte;
    uint64_t flags = leaf.flags;
    flags &= ~((pte::kWritable | pte::kUser) & ~leaf.above_and);
    flags |= leaf.above_or & pte::kNoExecute;
    return flags;
}

// Flags as one page-size-independent value, for comparing and printing
// pages of different sizes alike: A and D dropped (the CPU sets them as it
// goes), PS dropped (the page size says it), and a large leaf's PAT bit
// (bit 12) moved to where a PTE has it (bit 7). Render it at kPt.
constexpr uint64_t normalized_flags(uint64_t flags, PageSize size) {
    namespace pte = x86::pte;
    flags &= ~(pte::kAccessed | pte::kDirty);
    if (size == PageSize::k4KiB) return flags;
    const bool pat = (flags & pte::kPatHuge) != 0;
    flags &= ~(pte::kHugePage | pte::kPatHuge);
    return pat ? flags | pte::kPat4K : flags;
}

// A table the walk is about to read.
struct TableVisit {
    PhysAddr frame;
    PageTableLevel level;  // the table's level (kPml4 or kPml5 for the root)
    VirtAddr va;           // the first address it translates
};

// An entry the CPU would not use as it stands.
enum class StrayKind : uint8_t {
    kNotPresentNonZero,  // P=0 but other bits set: stale state, one bit flip from a mapping
    kPsInPml4e,          // PS is reserved in a PML4 entry: any access through it faults
    kPsInPml5e,          // ... and in a PML5 entry, at 5 levels
};
const char* describe(StrayKind kind);

// The stray a PS bit makes at `level`, where it is reserved (!can_be_leaf).
constexpr StrayKind reserved_ps_stray(PageTableLevel level) {
    return level == PageTableLevel::kPml5 ? StrayKind::kPsInPml5e : StrayKind::kPsInPml4e;
}

struct StrayEntry {
    StrayKind kind;
    VirtAddr va;            // the first address the entry covers
    PageTableLevel level;   // the level of the table that holds it
    PhysAddr table;
    PageTableEntry* entry;
};

class PageTableVisitor {
public:
    // Before the walk reads `table`: return false to leave it (and what is
    // below it) unread. The root comes first.
    virtual bool enter_table(const TableVisit& table) { (void)table; return true; }
    virtual void leaf(const Leaf& leaf) { (void)leaf; }
    virtual void stray_entry(const StrayEntry& stray) { (void)stray; }

protected:
    ~PageTableVisitor() = default;
};

// What translate() found for one address: the leaf when it is mapped, and in
// any case the last entry the walk read (the leaf, or the entry that ended
// the walk), so a caller can see, or on purpose change, exactly that entry.
struct [[nodiscard]] Lookup {
    bool present = false;
    Leaf leaf{};                   // valid when present
    PageTableEntry* entry = nullptr;  // null only for a non-canonical address
    PageTableLevel level = PageTableLevel::kPml4;  // the root's level when entry is null
};

// The canonical address of slot `index` of a table at `level` whose first
// address is `base`: sign-extended from bit 47 (4 levels) or bit 56 (5).
constexpr VirtAddr entry_va(VirtAddr base, PageTableLevel level, unsigned index, PagingDepth depth) {
    const unsigned sign_bit = translated_bits(depth) - 1;
    uint64_t va = base.value() + uint64_t(index) * entry_span(level);
    if (va & (uint64_t(1) << sign_bit)) va |= ~uint64_t(0) << sign_bit;
    return VirtAddr(va);
}
static_assert(entry_va(VirtAddr(0), PageTableLevel::kPml4, 256, PagingDepth::kFourLevel) ==
              VirtAddr(0xFFFF'8000'0000'0000ull));
static_assert(entry_va(VirtAddr(0xFFFF'FF80'0000'0000ull), PageTableLevel::kPdpt, 510, PagingDepth::kFourLevel) ==
              VirtAddr(0xFFFF'FFFF'8000'0000ull));
static_assert(entry_va(VirtAddr(0), PageTableLevel::kPml5, 256, PagingDepth::kFiveLevel) ==
              VirtAddr(0xFF00'0000'0000'0000ull));
static_assert(entry_va(VirtAddr(0), PageTableLevel::kPml5, 255, PagingDepth::kFiveLevel) ==
              VirtAddr(0x00FF'0000'0000'0000ull));
// Below a 5-level root, bit 47 is an index bit like any other: no sign extension there.
static_assert(entry_va(VirtAddr(0), PageTableLevel::kPml4, 256, PagingDepth::kFiveLevel) ==
              VirtAddr(0x0000'8000'0000'0000ull));

class PageTableWalker {
public:
    // `root` is the table CR3 names: the PML4, or with `depth` 5 the PML5.
    PageTableWalker(PhysAddr root, PhysicalMemoryAccess& memory, PagingDepth depth = PagingDepth::kFourLevel)
        : root_(root), memory_(memory), depth_(depth) {}

    // Every table reachable from the root, depth first in address order.
    void walk(PageTableVisitor& visitor);

    // The walk for one address, as the CPU does it (SDM Vol. 3A, 4.5).
    Lookup translate(VirtAddr va);

    PhysAddr root() const { return root_; }
    PagingDepth depth() const { return depth_; }

private:
    void walk_table(PageTableVisitor& visitor, PhysAddr frame, PageTableLevel level, VirtAddr base,
                    uint64_t above_and, uint64_t above_or);
    // mm::entry_va at this walker's depth.
    VirtAddr entry_va(VirtAddr base, PageTableLevel level, unsigned index) const {
        return mm::entry_va(base, level, index, depth_);
    }

    PhysAddr root_;
    PhysicalMemoryAccess& memory_;
    PagingDepth depth_;
};

}  // namespace mm
