#include "mm/counted_pages.h"

#include "mm/user_leaves.h"

namespace mm {

CountedMapResult map_counted_page(UserAddressSpace& space, VirtAddr va, PhysAddr frame, uint64_t leaf_flags,
                                  FrameRefCounts& counts) {
    CountedMapResult result;
    const bool borrowed = leaf_flags & user_flags::kBorrowed;
    if (!borrowed) {
        const RefCountResult claimed = counts.claim(frame);
        result.count = claimed.status;
        if (!claimed.ok()) return result;
    }
    result.map = space.map_page(va, frame, leaf_flags);
    if (result.map != UserMapStatus::kOk && !borrowed) {
        const RefCountResult undone = counts.release(frame);
        KASSERT(undone.last());
    }
    return result;
}

bool release_unmapped_counted(const UnmappedPage& page, FrameRefCounts& counts, FrameSink& sink, ReleasedFrames& out) {
    auto give_back = [&](PhysAddr frame, uint64_t& counter) {
        if (sink.return_frame(frame)) ++counter;
        else ++out.refused;
    };
    bool last = false;
    if (page.borrowed) {
        ++out.borrowed;
    } else {
        const RefCountResult released = counts.release(page.frame);
        KASSERT(released.ok());  // an unmapped leaf of a process was counted when it was mapped
        last = released.last();
        if (last) give_back(page.frame, out.pages);
    }
    for (unsigned i = 0; i < page.table_count; ++i) give_back(page.tables[i], out.tables);
    return last;
}

CountedTeardownResult destroy_counted(UserAddressSpace& space, PhysicalMemoryAccess& memory, FrameRefCounts& counts,
                                      FrameSink& sink) {
    CountedTeardownResult result;
    (void)for_each_user_leaf(memory, space.pml4(), [&](VirtAddr, PageTableEntry& leaf) {
        if (leaf.raw() & user_flags::kBorrowed) return true;  // destroy() keeps it and counts it
        const RefCountResult released = counts.release(leaf.address());
        if (!released.ok()) {
            if (result.count_refused++ == 0) result.first_refused = leaf.address();
            leaf.clear();  // whose frame it is, nobody can say: keep it rather than free it twice
        } else if (!released.last()) {
            ++result.still_shared;
            leaf.clear();  // another address space maps it: not ours to give back
        }
        return true;  // at the last release the leaf stays, and destroy() returns its frame
    });
    result.frames = space.destroy(sink);
    return result;
}

UserMapStatus CountedFrames::map_fresh(UserAddressSpace& space, VirtAddr va, PhysAddr frame, uint64_t leaf_flags) {
    const CountedMapResult result = map_counted_page(space, va, frame, leaf_flags, counts_);
    if (result.count != RefCountStatus::kOk) {
        ++count_refused_;  // a fresh frame someone already counts: the allocator and the counts disagree
        return UserMapStatus::kAlreadyMapped;
    }
    return result.map;
}

uint64_t CountedFrames::protect_flags(const PageTableEntry& leaf, uint64_t wanted) {
    if (leaf.raw() & user_flags::kBorrowed) return wanted & ~user_flags::kCopyOnWrite;  // never counted, never written
    return counted_protect_flags(wanted, counts_.count(leaf.address()));
}

void CountedFrames::release(UserAddressSpace&, const UnmappedPage& page, ReleasedFrames& out) {
    if (!page.borrowed && counts_.count(page.frame) > 1) ++still_shared_;
    (void)release_unmapped_counted(page, counts_, sink_, out);
}

ReleasedFrames CountedFrames::release_all(UserAddressSpace& space) {
    const CountedTeardownResult result = destroy_counted(space, memory_, counts_, sink_);
    still_shared_ += result.still_shared;
    count_refused_ += result.count_refused;
    return result.frames;
}

}  // namespace mm
