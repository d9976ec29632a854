#include "mm/boot_frame_allocator.h"

namespace mm {

// book:begin init
void BootFrameAllocator::init(const MemoryRange* ranges, size_t count) {
    region_count_ = current_ = 0;
    trimmed_bytes_ = 0;
    while (!reserve_.is_empty()) (void)reserve_.pop();

    for (size_t i = 0; i < count; ++i) {
        const MemoryRange& r = ranges[i];
        if (r.kind != RangeKind::kUsable) continue;
        // Inward to whole pages: a partial page may share its other half with
        // firmware data. align_up cannot overflow: ranges end below 2^52.
        uint64_t start = 0;
        (void)align_up(r.start.value(), kPageSize, &start);
        uint64_t end = align_down(r.end.value(), kPageSize);
        if (end <= start) {
            trimmed_bytes_ += r.size();
            continue;
        }
        trimmed_bytes_ += (start - r.start.value()) + (r.end.value() - end);
        if (start < kLowestFrame.value()) start = kLowestFrame.value();
        if (end <= start) continue;
        KASSERT(region_count_ < kMaxRegions);
        KASSERT(region_count_ == 0 || regions_[region_count_ - 1].end.value() <= start);  // sorted, disjoint
        regions_[region_count_++] = {PhysAddr(start), PhysAddr(start), PhysAddr(end)};
    }
    (void)refill_reserve();  // on a tiny machine the reserve may stay short: alloc says so later
}
// book:end init

// book:begin alloc
// lab:begin allocate
FrameResult BootFrameAllocator::take_from_regions() {
    for (; current_ < region_count_; ++current_) {
        Region& r = regions_[current_];
        if (r.next < r.end) {
            const PhysAddr frame = r.next;
            r.next = r.next + kPageSize;
            return FrameResult::success(frame);
        }
    }
    return FrameResult::out_of_memory();
}

FrameResult BootFrameAllocator::alloc_frame() { return take_from_regions(); }

FrameResult BootFrameAllocator::alloc_page_table_frame() {
    const FrameResult reserved = reserve_.pop();
    return reserved.ok() ? reserved : take_from_regions();
}
// lab:end allocate
// book:end alloc

bool BootFrameAllocator::refill_reserve() {

    while (!reserve_.is_full()) {
        const FrameResult frame = take_from_regions();
        if (!frame.ok()) return false;
        const bool pushed = reserve_.push(frame.frame());
        KASSERT(pushed);
    }
    return true;
}

bool BootFrameAllocator::return_page_table_frame(PhysAddr frame) {
    KASSERT(was_handed_out(frame));  // only what this allocator gave out comes back
    return reserve_.push(frame);
}

uint64_t BootFrameAllocator::frames_handed_out() const {
    uint64_t total = 0;
    for (size_t i = 0; i < region_count_; ++i) total += regions_[i].frames_handed_out();
    return total;
}

uint64_t BootFrameAllocator::frames_remaining() const {
    uint64_t total = 0;
    for (size_t i = 0; i < region_count_; ++i) total += regions_[i].frames_remaining();
    return total;
}

bool BootFrameAllocator::was_handed_out(PhysAddr frame) const {
    for (size_t i = 0; i < region_count_; ++i)
        if (regions_[i].start <= frame && frame < regions_[i].next) return true;
    return false;
}

}  // namespace mm
