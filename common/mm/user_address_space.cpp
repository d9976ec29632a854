#include "mm/user_address_space.h"

#include "mm/page_table_index.h"
#include "mm/user_layout.h"

namespace mm {
namespace {

constexpr unsigned kFirstKernelSlot = 256;  // PML4 slots 256-511: the upper half

}  // namespace

const char* describe(UserMapStatus status) {
    switch (status) {
        case UserMapStatus::kOk: return "ok";
        case UserMapStatus::kBelowUserLowest: return "user pages start at 4 MiB: nothing near page 0";
        case UserMapStatus::kAtOrAboveUserLimit: return "user pages end below 0x7ffffffff000 (the user limit)";
        case UserMapStatus::kMisaligned: return "virtual address and frame must be 4 KiB aligned";
        case UserMapStatus::kNotUserFlags: return "a user leaf must be present and user-accessible, and never PS";
        case UserMapStatus::kWritableExecutable: return "a page must not be both writable and executable (W^X)";
        case UserMapStatus::kAlreadyMapped: return "the page is mapped already";
        case UserMapStatus::kOutOfTableFrames: return "no frame left for a page table";
        case UserMapStatus::kKernelSlotMissing: return "every kernel PML4 slot (256-511) must have a table to share";
    }
    return "?";
}

bool UserAddressSpace::new_table(PhysAddr* frame) {
    const FrameResult got = frames_.alloc_page_table_frame();
    if (!got.ok()) return false;
    PageTable& t = table(got.frame());
    for (PageTableEntry& e : t.entries) e.clear();  // zeroed before it is installed
    ++tables_;
    *frame = got.frame();
    return true;
}

// book:begin user-create
UserMapStatus UserAddressSpace::create(PhysAddr kernel_pml4, PagingDepth depth) {
    KASSERT(pml4_.value() == 0);
    const PageTable& kernel = table(kernel_pml4);
    for (unsigned slot = kFirstKernelSlot; slot < PageTableIndex::kCount; ++slot)
        if (!kernel.entries[slot].present()) return UserMapStatus::kKernelSlotMissing;
    depth_ = depth;
    if (depth == PagingDepth::kFiveLevel) return create_five_level(kernel);  // chapter 16: five levels
    if (!new_table(&pml4_)) return UserMapStatus::kOutOfTableFrames;
    PageTable& mine = table(pml4_);
    for (unsigned slot = kFirstKernelSlot; slot < PageTableIndex::kCount; ++slot)
        mine.entries[slot] = kernel.entries[slot];  // the same PDPT: shared, never copied deeper
    return UserMapStatus::kOk;
}
// book:end user-create

// book:begin user-create-five-level
// lab:begin create-five-level
// Chapter 16: the kernel's upper half is the PML5's entries 256-511; the
// program's 47 bits are one PML4 under entry 0, its upper half empty.
UserMapStatus UserAddressSpace::create_five_level(const PageTable& kernel_pml5) {
    if (!new_table(&pml4_)) return UserMapStatus::kOutOfTableFrames;
    if (!new_table(&pml5_)) return UserMapStatus::kOutOfTableFrames;  // pml4_ stays, for destroy()
    PageTable& top = table(pml5_);
    for (unsigned slot = kFirstKernelSlot; slot < PageTableIndex::kCount; ++slot)
        top.entries[slot] = kernel_pml5.entries[slot];  // the same PML4s: shared, never copied deeper
    top.entries[0].set(PageTableLevel::kPml5, pml4_, user_flags::kTable);  // user: the leaf decides
    return UserMapStatus::kOk;
}
// lab:end create-five-level
// book:end user-create-five-level

// book:begin user-map-page
UserMapStatus UserAddressSpace::map_page(VirtAddr va, PhysAddr frame, uint64_t leaf_flags) {
    namespace pte = x86::pte;
    if (va < kUserLowest) return UserMapStatus::kBelowUserLowest;
    if (va >= kUserLimit) return UserMapStatus::kAtOrAboveUserLimit;
    if (!va.is_aligned(kPageSize) || !frame.is_aligned(kPageSize)) return UserMapStatus::kMisaligned;
    if ((leaf_flags & (pte::kPresent | pte::kUser)) != (pte::kPresent | pte::kUser) || (leaf_flags & pte::kHugePage))
        return UserMapStatus::kNotUserFlags;
    if ((leaf_flags & pte::kWritable) && !(leaf_flags & pte::kNoExecute)) return UserMapStatus::kWritableExecutable;
    KASSERT(pml4_.value() != 0);
    // Down from the PML4, creating a zeroed table where there is none.
    PhysAddr at = pml4_;
    for (PageTableLevel level = PageTableLevel::kPml4; level != PageTableLevel::kPt; level = next_lower(level)) {
        PageTableEntry& e = table(at)[index_at(va, level)];
        if (!e.present()) {
            PhysAddr fresh;
            if (!new_table(&fresh)) return UserMapStatus::kOutOfTableFrames;
            e.set(level, fresh, user_flags::kTable);
        }
        KASSERT(!e.huge() && e.user());  // only this class writes the lower half: 4 KiB leaves, user tables
        at = e.address();
    }
    PageTableEntry& leaf = table(at)[index_at(va, PageTableLevel::kPt)];
    if (leaf.present()) return UserMapStatus::kAlreadyMapped;
    leaf.set(PageTableLevel::kPt, frame, leaf_flags);
    ++(leaf_flags & user_flags::kBorrowed ? borrowed_ : pages_);
    return UserMapStatus::kOk;
}
// book:end user-map-page

// book:begin user-destroy
// lab:begin user-destroy
ReleasedFrames UserAddressSpace::destroy(FrameSink& sink) {
    ReleasedFrames out;
    auto give_back = [&](PhysAddr frame, uint64_t& counter) {
        if (sink.return_frame(frame)) ++counter;
        else ++out.refused;
    };
    PageTable& pml4 = table(pml4_);
    for (unsigned i = 0; i < kFirstKernelSlot; ++i) {  // the lower half only: the upper half is the kernel's
        if (!pml4.entries[i].present()) continue;
        PageTable& pdpt = table(pml4.entries[i].address());
        for (PageTableEntry& pdpte : pdpt.entries) {
            if (!pdpte.present()) continue;
            PageTable& pd = table(pdpte.address());
            for (PageTableEntry& pde : pd.entries) {
                if (!pde.present()) continue;
                PageTable& pt = table(pde.address());
                for (PageTableEntry& leaf : pt.entries) {
                    if (!leaf.present()) continue;
                    if (leaf.raw() & user_flags::kBorrowed) ++out.borrowed;  // not the process's to give
                    else give_back(leaf.address(), out.pages);
                }
                give_back(pde.address(), out.tables);
            }
            give_back(pdpte.address(), out.tables);
        }
        give_back(pml4.entries[i].address(), out.tables);
    }
    give_back(pml4_, out.tables);
    if (pml5_.value() != 0) give_back(pml5_, out.tables);  // chapter 16: the PML5 above it
    pml4_ = pml5_ = PhysAddr();
    pages_ = borrowed_ = tables_ = 0;
    return out;
}
// lab:end user-destroy
// book:end user-destroy

}  // namespace mm
