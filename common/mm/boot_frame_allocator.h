// BootFrameAllocator: the kernel's first source of physical frames.
//
// A bump allocator over the usable ranges of the memory map: each region keeps
// a cursor, and frames below it have been handed out. That is all the state
// there is, which makes it easy to trust, and it doubles as the record of what
// was handed out that chapter 11's steady-state allocator starts from.
//
// It never hands out:
//  - frame 0 or anything below 1 MiB (real-mode IVT, BIOS data, the VGA hole,
//    the AP trampoline later chapters may want);
//  - any page that is not usable after ExitBootServices: the kernel image,
//    handoff, map buffer, bootstrap tables and boot stack are loader-owned
//    kinds in the range list, so they are never regions here;
//  - a partial page: region ends are trimmed inward to 4 KiB.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/frame_source.h"
#include "mm/memory_ranges.h"
#include "mm/reserved_pool.h"

namespace mm {

class BootFrameAllocator final : public FrameSource {
public:
    static constexpr PhysAddr kLowestFrame = PhysAddr(1 * MiB);
    // Page-table frames kept back: enough for the deepest walk (3 new tables
    // per 4-level mapping) several times over.
    static constexpr size_t kPageTableReserve = 16;
    static constexpr size_t kMaxRegions = MemoryRangeList::kCapacity;

    struct Region {
        PhysAddr start;  // first frame (page-aligned, >= kLowestFrame)
        PhysAddr next;   // first frame not yet handed out
        PhysAddr end;    // exclusive, page-aligned

        uint64_t frames_handed_out() const { return (next - start) / kPageSize; }
        uint64_t frames_remaining() const { return (end - next) / kPageSize; }
    };

    // Takes the usable ranges (trimmed to whole pages, cut at kLowestFrame),
    // then fills the page-table reserve. trimmed_bytes() tells how much was
    // lost to partial pages, so the caller can log it.
    void init(const MemoryRangeList& ranges) { init(ranges.begin(), ranges.count()); }
    void init(const MemoryRange* ranges, size_t count);

    // FrameSource
    FrameResult alloc_frame() override;
    FrameResult alloc_page_table_frame() override;
    size_t page_table_frames_available() const override { return reserve_.len() + frames_remaining(); }

    // Tops the reserve up from general memory; false if memory ran out first.
    bool refill_reserve();

    // A page-table frame no walk can reach any more (chapter 08 releases the
    // identity map's tables) goes back into the reserve. False when the
    // reserve is full: a bump allocator cannot take frames back otherwise,
    // and the frame stays handed out until chapter 11's allocator.
    bool return_page_table_frame(PhysAddr frame);

    size_t region_count() const { return region_count_; }
    const Region& region(size_t index) const {
        KASSERT(index < region_count_);
        return regions_[index];
    }
    uint64_t frames_handed_out() const;  // including those sitting in the reserve
    uint64_t frames_remaining() const;   // not counting the reserve
    size_t reserve_len() const { return reserve_.len(); }
    uint64_t trimmed_bytes() const { return trimmed_bytes_; }

    // Was `frame` ever taken from general memory (handed out or reserved)?
    bool was_handed_out(PhysAddr frame) const;

private:
    FrameResult take_from_regions();

    Region regions_[kMaxRegions];
    size_t region_count_ = 0;
    size_t current_ = 0;  // first region that may still have free frames
    uint64_t trimmed_bytes_ = 0;
    ReservedPool<kPageTableReserve> reserve_;
};

}  // namespace mm
