// A process's frames through the reference counts (chapter 14): mapping a
// fresh frame claims it (count 1); unmapping a page (chapter 13's munmap) and
// tearing down release leaves, and a frame goes back to the allocator only at
// its last release — a frame the other side of a fork still maps stays where
// it is; mprotect never makes a shared frame writable.
//
// UserAddressSpace::destroy() (chapter 12) gives back every leaf it finds;
// destroy_counted() first clears each leaf whose frame is still mapped
// elsewhere, so destroy() returns exactly the frames whose count reached 0,
// and every table.
#pragma once

#include <stdint.h>

#include "mm/copy_on_write.h"
#include "mm/frame_ref_counts.h"
#include "mm/physical_memory.h"
#include "mm/process_frames.h"
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

// Chapter 13's munmap, counted: after unmap_page() and its flush, the leaf's
// frame goes to `sink` only at its last release (true), the emptied tables
// always. Use in place of UserAddressSpace::release() once frames are shared.
bool release_unmapped_counted(const UnmappedPage& page, FrameRefCounts& counts, FrameSink& sink, ReleasedFrames& out);

// Chapter 13's mprotect, counted: the flags to give protect_page() for a
// leaf whose frame has `count` mappings. Asked for writable while the frame
// is shared, the page stays read-only and copy-on-write (the first write
// copies it); otherwise what was asked, without kCopyOnWrite.
constexpr uint64_t counted_protect_flags(uint64_t requested, uint32_t count) {
    if ((requested & x86::pte::kWritable) && count > 1)
        return (requested & ~x86::pte::kWritable) | user_flags::kCopyOnWrite;
    return requested & ~user_flags::kCopyOnWrite;
}

struct [[nodiscard]] CountedTeardownResult {
    ReleasedFrames frames;       // what destroy() returned: pages at their last release, and tables
    uint64_t still_shared = 0;   // leaves released whose frame another address space still maps
    uint64_t count_refused = 0;  // leaves whose count refused the release (a bug): frame kept, not returned
    PhysAddr first_refused;
};

CountedTeardownResult destroy_counted(UserAddressSpace& space, PhysicalMemoryAccess& memory, FrameRefCounts& counts,
                                      FrameSink& sink);

// book:begin counted-frames
// Chapter 14's owner of a process's frames (process_frames.h): every frame
// counted, given back at its last release, never made writable while shared.
// Chapter 13's first touch, munmap and mprotect run on it unchanged.
class CountedFrames final : public ProcessFrames {
public:
    CountedFrames(PhysicalMemoryAccess& memory, FrameRefCounts& counts, FrameSink& sink)
        : memory_(memory), counts_(counts), sink_(sink) {}
    UserMapStatus map_fresh(UserAddressSpace& space, VirtAddr va, PhysAddr frame, uint64_t leaf_flags) override;
    uint64_t protect_flags(const PageTableEntry& leaf, uint64_t wanted) override;
    void release(UserAddressSpace& space, const UnmappedPage& page, ReleasedFrames& out) override;
    ReleasedFrames release_all(UserAddressSpace& space) override;

    uint64_t still_shared() const { return still_shared_; }    // leaves let go whose frame another leaf maps
    uint64_t count_refused() const { return count_refused_; }  // counts that refused (a bug: the caller stops)

private:
    PhysicalMemoryAccess& memory_;
    FrameRefCounts& counts_;
    FrameSink& sink_;
    uint64_t still_shared_ = 0;
    uint64_t count_refused_ = 0;
};
// book:end counted-frames

}  // namespace mm
