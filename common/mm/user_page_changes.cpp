// Changes to a live process's pages (chapter 13): unmap and protect, the two
// things munmap and mprotect do to the tables. Part of UserAddressSpace
// (user_address_space.h); chapter 12 only ever added pages and then dropped
// the whole tree.
#include "mm/page_table_index.h"
#include "mm/user_address_space.h"

namespace mm {
namespace {

bool table_empty(const PageTable& t) {
    for (const PageTableEntry& e : t.entries)
        if (e.present()) return false;
    return true;
}

}  // namespace

const PageTableEntry* UserAddressSpace::leaf(VirtAddr va) {
    if (va >= kUserLimit || pml4_.value() == 0) return nullptr;
    PhysAddr at = pml4_;
    for (PageTableLevel level = PageTableLevel::kPml4; level != PageTableLevel::kPt; level = next_lower(level)) {
        const PageTableEntry& e = table(at)[index_at(va, level)];
        if (!e.present()) return nullptr;
        at = e.address();
    }
    return &table(at)[index_at(va, PageTableLevel::kPt)];
}

VirtAddr UserAddressSpace::next_present(VirtAddr from, VirtAddr end) {
    constexpr unsigned kSpanShift[] = {39, 30, 21, 12};  // what one entry covers at PML4, PDPT, PD, PT
    uint64_t va = align_down(from.value(), kPageSize);
    while (va < end.value() && va < kUserLimit.value()) {
        PhysAddr at = pml4_;
        PageTableLevel level = PageTableLevel::kPml4;
        unsigned depth = 0;
        for (;; ++depth) {
            const PageTableEntry& e = table(at)[index_at(VirtAddr(va), level)];
            if (!e.present()) break;
            if (depth == 3) return VirtAddr(va);
            at = e.address();
            level = next_lower(level);
        }
        va = align_down(va, uint64_t(1) << kSpanShift[depth]) + (uint64_t(1) << kSpanShift[depth]);
    }
    return end;
}

// book:begin user-unmap-page
TlbFlush UserAddressSpace::unmap_page(VirtAddr va, TlbInvalidator& tlb, UnmappedPage* out) {
    KASSERT(va.is_aligned(kPageSize) && va < kUserLimit);
    // The path down: path[0] is the PML4 entry, path[3] the leaf.
    PageTableEntry* path[4];
    PhysAddr at = pml4_;
    PageTableLevel level = PageTableLevel::kPml4;
    for (int depth = 0; depth < 4; ++depth) {
        path[depth] = &table(at)[index_at(va, level)];
        KASSERT(path[depth]->present());  // the caller asks only for present pages (leaf())
        at = path[depth]->address();
        if (depth < 3) level = next_lower(level);
    }
    *out = UnmappedPage{};
    out->frame = path[3]->address();
    out->borrowed = (path[3]->raw() & user_flags::kBorrowed) != 0;
    --(out->borrowed ? borrowed_ : pages_);
    path[3]->clear();
    // Upwards: a table with nothing left in it comes off its parent.
    for (int depth = 3; depth >= 1; --depth) {
        const PhysAddr table_frame = path[depth - 1]->address();
        if (!table_empty(table(table_frame))) break;
        path[depth - 1]->clear();
        out->tables[out->table_count++] = table_frame;
        --tables_;
    }
    return TlbFlush(va, tlb);
}
// book:end user-unmap-page

void UserAddressSpace::release(const UnmappedPage& page, FrameSink& sink, ReleasedFrames& counts) {
    auto give_back = [&](PhysAddr frame, uint64_t& counter) {
        if (sink.return_frame(frame)) ++counter;
        else ++counts.refused;
    };
    if (page.borrowed) ++counts.borrowed;
    else give_back(page.frame, counts.pages);
    for (unsigned i = 0; i < page.table_count; ++i) give_back(page.tables[i], counts.tables);
}

// book:begin user-protect-page
TlbFlush UserAddressSpace::protect_page(VirtAddr va, uint64_t leaf_flags, TlbInvalidator& tlb) {
    namespace pte = x86::pte;
    KASSERT((leaf_flags & (pte::kPresent | pte::kUser)) == (pte::kPresent | pte::kUser));
    KASSERT(!((leaf_flags & pte::kWritable) && !(leaf_flags & pte::kNoExecute)));  // W^X
    PageTableEntry* e = const_cast<PageTableEntry*>(leaf(va));
    KASSERT(e != nullptr && e->present());
    const uint64_t kept = e->raw() & user_flags::kBorrowed;  // still the module's frame, if it was
    e->set(PageTableLevel::kPt, e->address(), leaf_flags | kept);
    return TlbFlush(va, tlb);
}
// book:end user-protect-page

}  // namespace mm
