// Whose frames a process's leaves map (chapter 13 on), and so what first
// touch, munmap, mprotect and exit do with a frame.
//
// Chapter 13: every frame a process maps is its own (SoleOwnerFrames): a
// page it unmaps goes back to the allocator at once, mprotect gives the leaf
// what the region asks, and on exit every leaf's frame goes back.
// Chapter 14 shares frames between processes after fork and counts them
// (CountedFrames, counted_pages.h): a frame goes back only when the last
// leaf that maps it goes, and a shared frame is never made writable. The
// chapter gives its processes that owner instead; the first-touch path,
// munmap and mprotect are the same code.
#pragma once

#include <stdint.h>

#include "mm/page_table_entry.h"
#include "mm/user_address_space.h"

namespace mm {

// The bits of a leaf that mprotect decides: its rights, and bit 10, which
// chapter 14 sets on a page shared copy-on-write (bit 9, borrowed, stays
// with the frame).
inline constexpr uint64_t kProtectedLeafBits =
    x86::pte::kPresent | x86::pte::kWritable | x86::pte::kUser | x86::pte::kNoExecute | (1ull << 10);

class ProcessFrames {
public:
    // Maps `frame` (fresh from the allocator, or the module's with
    // user_flags::kBorrowed) at `va`. On a refusal the frame is still the
    // caller's.
    virtual UserMapStatus map_fresh(UserAddressSpace& space, VirtAddr va, PhysAddr frame, uint64_t leaf_flags) = 0;
    // The flags the present `leaf` gets when mprotect asks for `wanted`.
    virtual uint64_t protect_flags(const PageTableEntry& leaf, uint64_t wanted) = 0;
    // After unmap_page() and its flush: the page's frame (when no other leaf
    // maps it) and the tables it emptied go back.
    virtual void release(UserAddressSpace& space, const UnmappedPage& page, ReleasedFrames& out) = 0;
    // At exit: every leaf's frame (when no other leaf maps it), every table
    // and the PML4.
    virtual ReleasedFrames release_all(UserAddressSpace& space) = 0;

protected:
    ~ProcessFrames() = default;
};

// book:begin sole-owner
// Chapter 13's rule: the process is the only owner of every frame it maps.
class SoleOwnerFrames final : public ProcessFrames {
public:
    explicit SoleOwnerFrames(FrameSink& sink) : sink_(sink) {}
    UserMapStatus map_fresh(UserAddressSpace& space, VirtAddr va, PhysAddr frame, uint64_t leaf_flags) override {
        return space.map_page(va, frame, leaf_flags);
    }
    uint64_t protect_flags(const PageTableEntry&, uint64_t wanted) override { return wanted; }
    void release(UserAddressSpace& space, const UnmappedPage& page, ReleasedFrames& out) override {
        space.release(page, sink_, out);
    }
    ReleasedFrames release_all(UserAddressSpace& space) override { return space.destroy(sink_); }

private:
    FrameSink& sink_;
};
// book:end sole-owner

}  // namespace mm
