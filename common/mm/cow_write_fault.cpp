#include "mm/cow_write_fault.h"

#include "mm/user_leaves.h"

namespace mm {

const char* name(CowWriteOutcome outcome) {
    switch (outcome) {
        case CowWriteOutcome::kCopied: return "copied";
        case CowWriteOutcome::kTakenOver: return "taken-over";
        case CowWriteOutcome::kNotCopyOnWrite: return "not-copy-on-write";
        case CowWriteOutcome::kOutOfFrames: return "out-of-frames";
    }
    return "unknown";
}

// lab:begin resolve-cow-write
CowWriteResult resolve_cow_write(UserAddressSpace& space, VirtAddr address, PhysicalMemoryAccess& memory,
                                 FrameRefCounts& counts, FrameSource& frames, TlbInvalidator& tlb) {
    namespace pte = x86::pte;
    const VirtAddr page = address.page_base();
    PageTableEntry* leaf = user_leaf(memory, space.pml4(), page);
    if (leaf == nullptr || !leaf->present() || !(leaf->raw() & user_flags::kCopyOnWrite))
        return CowWriteResult::unchanged(CowWriteOutcome::kNotCopyOnWrite);
    KASSERT(!leaf->writable());  // the rule the clone keeps (cow_audit.h)
    const PhysAddr shared = leaf->address();
    const uint64_t writable = (leaf->raw() & ~pte::kAddressMask & ~user_flags::kCopyOnWrite) | pte::kWritable;
    const uint32_t count = counts.count(shared);
    KASSERT(count >= 1);
    if (count == 1) {  // nobody else maps it: no copy
        leaf->set(PageTableLevel::kPt, shared, writable);
        return CowWriteResult::changed(CowWriteOutcome::kTakenOver, shared, shared, page, tlb);
    }
    const FrameResult fresh = frames.alloc_frame();
    if (!fresh.ok()) return CowWriteResult::unchanged(CowWriteOutcome::kOutOfFrames);
    *memory.table_at(fresh.frame()) = *memory.table_at(shared);  // 4 KiB, whatever the page holds
    const RefCountResult claimed = counts.claim(fresh.frame());
    KASSERT(claimed.ok());
    leaf->set(PageTableLevel::kPt, fresh.frame(), writable & ~(pte::kAccessed | pte::kDirty));
    const RefCountResult released = counts.release(shared);
    KASSERT(released.ok() && !released.last());  // count was above 1: the others still map it
    return CowWriteResult::changed(CowWriteOutcome::kCopied, shared, fresh.frame(), page, tlb);
}
// lab:end resolve-cow-write

}  // namespace mm
