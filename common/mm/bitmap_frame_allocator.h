// BitmapFrameAllocator: the kernel's frame allocator once it has its own
// address space (chapter 11).
//
// The boot allocator (chapter 03) can only hand frames out. This one can take
// them back: one bit per 4 KiB frame of usable RAM, set while the frame is in
// use. It starts from the boot allocator's record of what it handed out —
// in each region every frame below the cursor `next` is in use, every frame
// above it is free — so nothing the early kernel holds is handed out twice,
// and nothing free is lost. The boot allocator's page-table reserve moves
// over as this allocator's reserve, and the boot allocator is emptied, so a
// stale reference to it can no longer hand out anything.
//
// The regions are the boot allocator's: usable RAM from 1 MiB up, page-trimmed.
// Usable includes what UEFI boot services and the loader used before
// ExitBootServices (boot-code, boot-data, loader-data): that is
// the memory this allocator reclaims (usable_by_type() counts it per type).
//
// The bitmap itself needs frames: the handover takes the first run of free
// frames long enough for it, marks them in use, and reaches them through
// BitmapStorage (the phys-offset window in the kernel, a buffer in host tests).
//
// It implements FrameSource, so PageTableBuilder maps with it unchanged.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/boot_frame_allocator.h"
#include "mm/frame_source.h"
#include "mm/memory_descriptor_view.h"
#include "mm/reserved_pool.h"

namespace mm {

// How the allocator reaches the frames its bitmap lives in.
class BitmapStorage {
public:
    // `frames` consecutive frames from `first`, as one writable array.
    virtual uint64_t* words_at(PhysAddr first, uint64_t frames) = 0;

protected:
    ~BitmapStorage() = default;
};

// What free() found. Anything but kOk leaves the allocator unchanged.
enum class FrameFreeStatus : uint8_t {
    kOk,
    kMisaligned,    // not the start of a 4 KiB frame
    kForeign,       // not a frame of this allocator: below 1 MiB, loader-owned, firmware, device, beyond RAM
    kOwnBitmap,     // one of the frames the bitmap itself lives in
    kInReserve,     // a page-table frame still sitting in the reserve: nobody owns it to free it
    kDoubleFree,    // already free: freed twice, or never handed out
};
const char* describe(FrameFreeStatus status);  // the rule, for rule=
const char* name(FrameFreeStatus status);      // a short name, for reason=

struct FrameStats {
    uint64_t total = 0;    // frames the bitmap covers
    uint64_t used = 0;     // bits set: handed out, in the reserve, or holding the bitmap
    uint64_t free = 0;     // bits clear
    uint64_t reserve = 0;  // page-table frames in the reserve (counted in used)
    uint64_t bitmap = 0;   // frames holding the bitmap (counted in used)
    bool operator==(const FrameStats&) const = default;
};

// What the handover found in the boot allocator.
struct [[nodiscard]] HandoverResult {
    bool ok = false;           // false: no run of free frames could hold the bitmap
    uint64_t inherited = 0;    // frames the boot allocator had handed out (its reserve included)
    uint64_t reserve_moved = 0;
    PhysAddr bitmap_start;     // where the bitmap lives
    uint64_t bitmap_frames = 0;
};

class BitmapFrameAllocator final : public FrameSource {
public:
    static constexpr size_t kPageTableReserve = BootFrameAllocator::kPageTableReserve;
    static constexpr size_t kMaxRegions = BootFrameAllocator::kMaxRegions;

    struct Region {
        PhysAddr start;      // page-aligned, >= 1 MiB
        PhysAddr end;        // exclusive, page-aligned
        uint64_t first_bit;  // the bit of `start`; the region's frames follow
        uint64_t frames() const { return (end - start) / kPageSize; }
    };

    // Takes over from `boot`: same regions, its handed-out frames in use, its
    // reserve as this reserve (topped up), then `boot` emptied.
    HandoverResult take_over(BootFrameAllocator& boot, BitmapStorage& storage);

    // FrameSource
    FrameResult alloc_frame() override;
    FrameResult alloc_page_table_frame() override;
    size_t page_table_frames_available() const override { return reserve_.len() + free_; }

    // Tops the page-table reserve up from free frames; false if they ran out
    // first. The handover fills it, and each page-table frame taken from it
    // is replaced at once while memory lasts.
    bool refill_reserve();

    FrameFreeStatus free(PhysAddr frame);
    // A page table no walk reaches any more: back into the reserve when it has
    // room, else freed.
    FrameFreeStatus return_page_table_frame(PhysAddr frame);

    bool is_used(PhysAddr frame) const;  // false for foreign frames too
    bool manages(PhysAddr frame) const { return find(frame) != nullptr; }
    FrameStats stats() const;
    size_t region_count() const { return region_count_; }
    const Region& region(size_t index) const {
        KASSERT(index < region_count_);
        return regions_[index];
    }

private:
    const Region* find(PhysAddr frame) const;  // the region holding it, or nullptr
    uint64_t bit_of(const Region& region, PhysAddr frame) const {
        return region.first_bit + (frame - region.start) / kPageSize;
    }
    PhysAddr frame_of(uint64_t bit) const;
    bool test(uint64_t bit) const { return (bits_[bit / 64] >> (bit % 64)) & 1; }
    void set(uint64_t bit) { bits_[bit / 64] |= uint64_t(1) << (bit % 64); }
    void clear(uint64_t bit) { bits_[bit / 64] &= ~(uint64_t(1) << (bit % 64)); }
    void mark_used(PhysAddr start, PhysAddr end);  // frames of one region, all free before

    Region regions_[kMaxRegions];
    size_t region_count_ = 0;
    uint64_t* bits_ = nullptr;
    uint64_t total_ = 0;
    uint64_t free_ = 0;
    uint64_t cursor_ = 0;  // the word the next search starts at (next fit)
    PhysAddr bitmap_start_;
    uint64_t bitmap_frames_ = 0;
    ReservedPool<kPageTableReserve> reserve_;
};

// Usable frames (>= `lowest`) per UEFI memory type, from the descriptors: how
// much of what the allocator manages was free all along (conventional) and
// how much it reclaimed from boot services and the loader.
struct UsableByType {
    static constexpr size_t kMaxTypes = 8;
    struct Entry {
        uint32_t type;
        uint64_t frames;
    };
    Entry entries[kMaxTypes];
    size_t count = 0;
    uint64_t total_frames = 0;
    uint64_t reclaimed_frames = 0;  // every type but conventional
    uint64_t set_aside_frames = 0;  // usable by type, but set aside (the framebuffer): in no entry, no total
};
// `ranges`: the list built from `map`, whose set-aside ranges
// (MemoryRangeList::set_aside) the allocators never manage.
UsableByType usable_by_type(const MemoryDescriptorView& map, PhysAddr lowest, const MemoryRangeList& ranges);

}  // namespace mm
