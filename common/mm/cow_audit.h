// The audit of copy-on-write sharing (chapter 14), over a set of address
// spaces that share frames (a parent and its children):
//
//   every copy-on-write leaf is read-only, in every address space
//   a frame mapped by more than one leaf is writable through none of them
//   every counted frame's count equals the leaves mapping it across the spaces
//   with every_space: the counts know of no leaf beyond these (sum of counts
//   == counted leaves), so no frame is held by a mapping that is gone
//
// Borrowed leaves (user_flags::kBorrowed) carry no count and are skipped.
// Counting leaves per frame without a map to tally in walks the spaces once
// per leaf: quadratic, fine for the chapter's few small processes.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/frame_ref_counts.h"
#include "mm/physical_memory.h"
#include "mm/virt_addr.h"

namespace mm {

struct [[nodiscard]] CowAudit {
    uint64_t counted_leaves = 0;   // non-borrowed leaves, over all the spaces
    uint64_t copy_on_write = 0;    // of them, marked kCopyOnWrite
    uint64_t shared_frames = 0;    // leaves whose frame more than one leaf maps
    uint64_t writable_cow = 0;     // copy-on-write leaves that are writable
    uint64_t writable_shared = 0;  // writable leaves over a frame another leaf maps
    uint64_t count_mismatch = 0;   // leaves whose frame's count is not the leaves mapping it
    uint64_t unaccounted = 0;      // references the counts hold beyond the leaves (every_space only)
    size_t first_bad_space = 0;    // where the first broken rule was seen
    VirtAddr first_bad;
    PhysAddr first_bad_frame;

    bool ok() const {
        return writable_cow == 0 && writable_shared == 0 && count_mismatch == 0 && unaccounted == 0;
    }
};

CowAudit audit_copy_on_write(PhysicalMemoryAccess& memory, const PhysAddr* pml4s, size_t count,
                             const FrameRefCounts& counts, bool every_space);

}  // namespace mm
