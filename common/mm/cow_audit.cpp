#include "mm/cow_audit.h"

#include "mm/copy_on_write.h"
#include "mm/user_leaves.h"

namespace mm {
namespace {

uint64_t leaves_mapping(PhysicalMemoryAccess& memory, const PhysAddr* pml4s, size_t count, PhysAddr frame) {
    uint64_t n = 0;
    for (size_t s = 0; s < count; ++s)
        (void)for_each_user_leaf(memory, pml4s[s], [&](VirtAddr, PageTableEntry& leaf) {
            n += !(leaf.raw() & user_flags::kBorrowed) && leaf.address() == frame;
            return true;
        });
    return n;
}

}  // namespace

CowAudit audit_copy_on_write(PhysicalMemoryAccess& memory, const PhysAddr* pml4s, size_t count,
                             const FrameRefCounts& counts, bool every_space) {
    CowAudit audit;
    bool bad_seen = false;
    auto bad = [&](uint64_t& rule, size_t space, VirtAddr page, PhysAddr frame) {
        ++rule;
        if (bad_seen) return;
        bad_seen = true;
        audit.first_bad_space = space;
        audit.first_bad = page;
        audit.first_bad_frame = frame;
    };
    for (size_t s = 0; s < count; ++s)
        (void)for_each_user_leaf(memory, pml4s[s], [&](VirtAddr page, PageTableEntry& leaf) {
            if (leaf.raw() & user_flags::kBorrowed) return true;
            ++audit.counted_leaves;
            const bool cow = leaf.raw() & user_flags::kCopyOnWrite;
            audit.copy_on_write += cow;
            if (cow && leaf.writable()) bad(audit.writable_cow, s, page, leaf.address());
            const uint64_t mapping = leaves_mapping(memory, pml4s, count, leaf.address());
            if (mapping > 1) {
                ++audit.shared_frames;
                if (leaf.writable()) bad(audit.writable_shared, s, page, leaf.address());
            }
            if (counts.count(leaf.address()) != mapping) bad(audit.count_mismatch, s, page, leaf.address());
            return true;
        });
    if (every_space && counts.references() != audit.counted_leaves) {
        audit.unaccounted = counts.references() > audit.counted_leaves ? counts.references() - audit.counted_leaves : 1;
        if (!bad_seen) audit.first_bad_space = count;  // no leaf to name: the counts hold the extra
    }
    return audit;
}

}  // namespace mm
