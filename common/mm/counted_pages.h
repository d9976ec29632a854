// A process's frames through the reference counts (chapter 14): mapping a
// fresh frame claims it (count 1), tearing down releases every leaf, and a
// frame goes back to the allocator only at its last release — a frame the
// other side of a fork still maps stays where it is.
//
// UserAddressSpace::destroy() (chapter 12) gives back every leaf it finds;
// destroy_counted() first clears each leaf whose frame is still mapped
// elsewhere, so destroy() returns exactly the frames whose count reached 0,
// and every table.
#pragma once

#include <stdint.h>

#include "mm/frame_ref_counts.h"
#include "mm/physical_memory.h"
#include "mm/user_address_space.h"

namespace mm {

struct [[nodiscard]] CountedMapResult {
    UserMapStatus map = UserMapStatus::kOk;
    RefCountStatus count = RefCountStatus::kOk;
    bool ok() const { return map == UserMapStatus::kOk && count == RefCountStatus::kOk; }
};

// Claims `frame` (its count 0 -> 1) and maps it at `va`; a refusal of either
// leaves both unchanged. Borrowed frames (user_flags::kBorrowed) are mapped
// without a count.
CountedMapResult map_counted_page(UserAddressSpace& space, VirtAddr va, PhysAddr frame, uint64_t leaf_flags,
                                  FrameRefCounts& counts);

struct [[nodiscard]] CountedTeardownResult {
    ReleasedFrames frames;       // what destroy() returned: pages at their last release, and tables
    uint64_t still_shared = 0;   // leaves released whose frame another address space still maps
    uint64_t count_refused = 0;  // leaves whose count refused the release (a bug): frame kept, not returned
    PhysAddr first_refused;
};

CountedTeardownResult destroy_counted(UserAddressSpace& space, PhysicalMemoryAccess& memory, FrameRefCounts& counts,
                                      FrameSink& sink);

}  // namespace mm
