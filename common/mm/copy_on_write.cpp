#include "mm/copy_on_write.h"

#include "mm/user_leaves.h"

namespace mm {
namespace {

namespace pte = x86::pte;

// A leaf's flags, without its frame and without what the CPU wrote (A, D):
// what map_page() takes for the child's leaf.
uint64_t flags_without_frame(PageTableEntry leaf) {
    return leaf.raw() & ~(pte::kAddressMask | pte::kAccessed | pte::kDirty);
}

bool writable_in_intent(PageTableEntry leaf) {
    return leaf.writable() || (leaf.raw() & user_flags::kCopyOnWrite);
}

// Undoes pass 1: every count the child's leaves raised comes down again
// (never to 0: the parent still maps each frame), the leaves are cleared so
// destroy() returns only the child's tables, and the child is destroyed.
void undo_child(UserAddressSpace& child, PhysicalMemoryAccess& memory, FrameRefCounts& counts, FrameSink& sink) {
    (void)for_each_user_leaf(memory, child.pml4(), [&](VirtAddr, PageTableEntry& leaf) {
        if (!(leaf.raw() & user_flags::kBorrowed)) {
            const RefCountResult undone = counts.release(leaf.address());
            KASSERT(undone.ok() && !undone.last());
        }
        leaf.clear();
        return true;
    });
    const ReleasedFrames returned = child.destroy(sink);
    KASSERT(returned.pages == 0 && returned.refused == 0);
}

}  // namespace

const char* describe(CloneStatus status) {
    switch (status) {
        case CloneStatus::kOk: return "ok";
        case CloneStatus::kChildInUse: return "the child must be a fresh address space, not created yet";
        case CloneStatus::kOutOfFrames: return "no frame left for one of the child's page tables";
        case CloneStatus::kCountRefused: return "every shared frame's count must go up by one";
        case CloneStatus::kChildMapRefused: return "every leaf of the parent must map in the child";
    }
    return "unknown";
}

const char* name(CloneStatus status) {
    switch (status) {
        case CloneStatus::kOk: return "ok";
        case CloneStatus::kChildInUse: return "child-in-use";
        case CloneStatus::kOutOfFrames: return "out-of-frames";
        case CloneStatus::kCountRefused: return "count-refused";
        case CloneStatus::kChildMapRefused: return "child-map-refused";
    }
    return "unknown";
}

uint64_t WriteProtectFlush::flush() {
    KASSERT(pending());
    TlbInvalidator* tlb = tlb_;
    tlb_ = nullptr;
    if (pages_ == 0) return 0;  // nothing became read-only: no writable translation can be stale
    // Every copy-on-write leaf: the ones this clone write-protected, and any
    // an earlier fork did (read-only in the TLB already, so a harmless extra).
    uint64_t invalidated = 0;
    (void)for_each_user_leaf(*memory_, pml4_, [&](VirtAddr page, PageTableEntry& leaf) {
        if (leaf.raw() & user_flags::kCopyOnWrite) {
            tlb->invalidate_page(page);
            ++invalidated;
        }
        return true;
    });
    return invalidated;
}

// book:begin clone
// lab:begin clone-address-space
CloneResult clone_copy_on_write(UserAddressSpace& parent, UserAddressSpace& child, PhysAddr kernel_pml4,
                                PhysicalMemoryAccess& memory, FrameRefCounts& counts, FrameSink& sink,
                                TlbInvalidator& tlb) {
    CloneResult result;
    if (child.root().value() != 0) {
        result.status = CloneStatus::kChildInUse;
        return result;
    }
    result.map_status = child.create(kernel_pml4, parent.depth());  // chapter 16: a PML5, at five levels
    if (result.map_status != UserMapStatus::kOk) {
        result.status = result.map_status == UserMapStatus::kOutOfTableFrames ? CloneStatus::kOutOfFrames
                                                                             : CloneStatus::kChildMapRefused;
        return result;
    }
    // Pass 1: the child's tables and leaves, each shared frame's count raised.
    // The parent is only read, so a refusal has nothing of it to undo.
    const bool built = for_each_user_leaf(memory, parent.pml4(), [&](VirtAddr page, PageTableEntry& leaf) {
        const bool borrowed = leaf.raw() & user_flags::kBorrowed;
        uint64_t flags = flags_without_frame(leaf);
        if (writable_in_intent(leaf)) flags = (flags & ~pte::kWritable) | user_flags::kCopyOnWrite;
        if (!borrowed) {
            const RefCountResult shared = counts.share(leaf.address());
            if (!shared.ok()) {
                result.status = CloneStatus::kCountRefused;
                result.count_status = shared.status;
                result.failed_at = page;
                return false;
            }
        }
        const UserMapStatus mapped = child.map_page(page, leaf.address(), flags);
        if (mapped != UserMapStatus::kOk) {
            if (!borrowed) {
                const RefCountResult undone = counts.release(leaf.address());
                KASSERT(undone.ok() && !undone.last());
            }
            result.status = mapped == UserMapStatus::kOutOfTableFrames ? CloneStatus::kOutOfFrames
                                                                      : CloneStatus::kChildMapRefused;
            result.map_status = mapped;
            result.failed_at = page;
            return false;
        }
        ++(borrowed ? result.borrowed : writable_in_intent(leaf) ? result.copy_on_write : result.shared_read_only);
        return true;
    });
    if (!built) {
        undo_child(child, memory, counts, sink);
        result.borrowed = result.copy_on_write = result.shared_read_only = 0;
        return result;
    }
    result.child_tables = child.tables();
    // Pass 2, which cannot fail: the parent's writable leaves become
    // read-only and copy-on-write, as the child's already are.
    uint64_t write_protected = 0;
    (void)for_each_user_leaf(memory, parent.pml4(), [&](VirtAddr, PageTableEntry& leaf) {
        if (leaf.writable()) {
            leaf = PageTableEntry::from_raw((leaf.raw() & ~pte::kWritable) | user_flags::kCopyOnWrite);
            ++write_protected;
        }
        return true;
    });
    result.flush = WriteProtectFlush(memory, parent.pml4(), tlb, write_protected);
    return result;
}
// lab:end clone-address-space
// book:end clone

}  // namespace mm
