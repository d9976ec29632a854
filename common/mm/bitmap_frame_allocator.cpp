#include "mm/bitmap_frame_allocator.h"

#include "mm/memory_ranges.h"

namespace mm {

const char* describe(FrameFreeStatus status) {
    switch (status) {
        case FrameFreeStatus::kOk: return "ok";
        case FrameFreeStatus::kMisaligned: return "a frame address must be 4 KiB aligned";
        case FrameFreeStatus::kForeign: return "only a frame of usable RAM from 1 MiB up can be freed";
        case FrameFreeStatus::kOwnBitmap: return "the allocator's own bitmap frames are never freed";
        case FrameFreeStatus::kInReserve: return "a frame in the page-table reserve is not handed out";
        case FrameFreeStatus::kDoubleFree: return "a frame must be in use to be freed";
    }
    return "unknown";
}

const char* name(FrameFreeStatus status) {
    switch (status) {
        case FrameFreeStatus::kOk: return "ok";
        case FrameFreeStatus::kMisaligned: return "misaligned";
        case FrameFreeStatus::kForeign: return "foreign-frame";
        case FrameFreeStatus::kOwnBitmap: return "own-bitmap";
        case FrameFreeStatus::kInReserve: return "in-reserve";
        case FrameFreeStatus::kDoubleFree: return "double-free";
    }
    return "unknown";
}

// book:begin take-over
HandoverResult BitmapFrameAllocator::take_over(BootFrameAllocator& boot, BitmapStorage& storage) {
    HandoverResult result;
    // 1. The same regions, numbered one bit per frame, one region after another.
    region_count_ = 0;
    total_ = 0;
    for (size_t i = 0; i < boot.region_count(); ++i) {
        const BootFrameAllocator::Region& r = boot.region(i);
        regions_[region_count_++] = {r.start, r.end, total_};
        total_ += (r.end - r.start) / kPageSize;
    }
    const uint64_t words = div_ceil(total_, 64);
    bitmap_frames_ = pages_for(words * sizeof(uint64_t));

    // 2. A home for the bitmap: the first run of frames the boot allocator
    //    never reached (above its cursor) that is long enough.
    size_t home = region_count_;
    for (size_t i = 0; i < region_count_ && home == region_count_; ++i)
        if (boot.region(i).frames_remaining() >= bitmap_frames_) home = i;
    if (home == region_count_) return result;
    bitmap_start_ = boot.region(home).next;
    bits_ = storage.words_at(bitmap_start_, bitmap_frames_);

    // 3. Everything free, then the boot allocator's record: frames below each
    //    cursor are in use. Then the bitmap's own frames. The bits past the
    //    last frame are set, so a search never finds them.
    for (uint64_t w = 0; w < words; ++w) bits_[w] = 0;
    for (uint64_t bit = total_; bit < words * 64; ++bit) set(bit);
    free_ = total_;
    for (size_t i = 0; i < region_count_; ++i) mark_used(boot.region(i).start, boot.region(i).next);
    result.inherited = total_ - free_;
    mark_used(bitmap_start_, bitmap_start_ + bitmap_frames_ * kPageSize);

    // 4. The reserve moves over: its frames are below a cursor, so in use already.
    reserve_ = {};
    while (boot.reserve_len() > 0) {
        const FrameResult frame = boot.alloc_page_table_frame();  // pops the reserve first
        KASSERT(frame.ok() && is_used(frame.frame()));
        const bool pushed = reserve_.push(frame.frame());
        KASSERT(pushed);
        ++result.reserve_moved;
    }
    // 5. The boot allocator is retired: from now on it has nothing to give.
    boot.init(nullptr, 0);

    cursor_ = 0;
    (void)refill_reserve();  // on a tiny machine it may stay short: alloc says so later
    result.ok = true;
    result.bitmap_start = bitmap_start_;
    result.bitmap_frames = bitmap_frames_;
    return result;
}
// book:end take-over

void BitmapFrameAllocator::mark_used(PhysAddr start, PhysAddr end) {
    const Region* region = find(start);
    if (start == end) return;
    KASSERT(region != nullptr && end <= region->end);
    for (uint64_t bit = bit_of(*region, start); bit < bit_of(*region, start) + (end - start) / kPageSize; ++bit) {
        KASSERT(!test(bit));
        set(bit);
        --free_;
    }
}

// book:begin alloc
// Next fit: the search goes on from the word where the last one succeeded,
// so a run of allocations does not rescan the full words at the start.
FrameResult BitmapFrameAllocator::alloc_frame() {
    const uint64_t words = div_ceil(total_, 64);
    if (free_ == 0 || words == 0) return FrameResult::out_of_memory();
    for (uint64_t n = 0; n < words; ++n) {
        const uint64_t w = (cursor_ + n) % words;
        if (bits_[w] == ~uint64_t(0)) continue;
        const uint64_t bit = w * 64 + uint64_t(__builtin_ctzll(~bits_[w]));  // lowest clear bit
        set(bit);
        --free_;
        cursor_ = w;
        return FrameResult::success(frame_of(bit));
    }
    KASSERT(false);  // free_ said there was one
    return FrameResult::out_of_memory();
}

FrameResult BitmapFrameAllocator::alloc_page_table_frame() {
    const FrameResult reserved = reserve_.pop();
    if (!reserved.ok()) return alloc_frame();
    (void)refill_reserve();  // the reserve stays full while general memory lasts
    return reserved;
}

bool BitmapFrameAllocator::refill_reserve() {
    while (!reserve_.is_full()) {
        const FrameResult frame = alloc_frame();  // marked used: the reserve holds it
        if (!frame.ok()) return false;
        const bool pushed = reserve_.push(frame.frame());
        KASSERT(pushed);
    }
    return true;
}
// book:end alloc

// book:begin free
FrameFreeStatus BitmapFrameAllocator::free(PhysAddr frame) {
    if (!frame.is_aligned(kPageSize)) return FrameFreeStatus::kMisaligned;
    const Region* region = find(frame);
    if (region == nullptr) return FrameFreeStatus::kForeign;
    if (bitmap_start_ <= frame && frame < bitmap_start_ + bitmap_frames_ * kPageSize) return FrameFreeStatus::kOwnBitmap;
    if (reserve_.contains(frame)) return FrameFreeStatus::kInReserve;
    const uint64_t bit = bit_of(*region, frame);
    if (!test(bit)) return FrameFreeStatus::kDoubleFree;
    clear(bit);
    ++free_;
    return FrameFreeStatus::kOk;
}
// book:end free

FrameFreeStatus BitmapFrameAllocator::return_page_table_frame(PhysAddr frame) {
    if (!frame.is_aligned(kPageSize)) return FrameFreeStatus::kMisaligned;
    if (reserve_.is_full()) return free(frame);
    const Region* region = find(frame);
    if (region == nullptr) return FrameFreeStatus::kForeign;
    if (reserve_.contains(frame)) return FrameFreeStatus::kInReserve;
    if (!test(bit_of(*region, frame))) return FrameFreeStatus::kDoubleFree;
    if (bitmap_start_ <= frame && frame < bitmap_start_ + bitmap_frames_ * kPageSize) return FrameFreeStatus::kOwnBitmap;
    const bool pushed = reserve_.push(frame);  // stays marked in use: the reserve holds it
    KASSERT(pushed);
    return FrameFreeStatus::kOk;
}

bool BitmapFrameAllocator::is_used(PhysAddr frame) const {
    const Region* region = frame.is_aligned(kPageSize) ? find(frame) : nullptr;
    return region != nullptr && test(bit_of(*region, frame));
}

FrameStats BitmapFrameAllocator::stats() const {
    return {total_, total_ - free_, free_, reserve_.len(), bitmap_frames_};
}

const BitmapFrameAllocator::Region* BitmapFrameAllocator::find(PhysAddr frame) const {
    // Regions are sorted and disjoint: a binary search.
    size_t low = 0, high = region_count_;
    while (low < high) {
        const size_t mid = (low + high) / 2;
        if (frame < regions_[mid].start) high = mid;
        else if (frame >= regions_[mid].end) low = mid + 1;
        else return &regions_[mid];
    }
    return nullptr;
}

PhysAddr BitmapFrameAllocator::frame_of(uint64_t bit) const {
    size_t low = 0, high = region_count_;
    while (low < high) {
        const size_t mid = (low + high) / 2;
        const Region& r = regions_[mid];
        if (bit < r.first_bit) high = mid;
        else if (bit >= r.first_bit + r.frames()) low = mid + 1;
        else return r.start + (bit - r.first_bit) * kPageSize;
    }
    KASSERT(false);
    return PhysAddr();
}

// book:begin usable-by-type
UsableByType usable_by_type(const MemoryDescriptorView& map, PhysAddr lowest, const MemoryRangeList& ranges) {
    UsableByType out;
    for (const MemoryDescriptor d : map) {
        if (range_kind_of(d) != RangeKind::kUsable) continue;
        PhysAddr end;
        if (!d.end(&end) || end <= lowest) continue;
        const PhysAddr start = d.physical_start() < lowest ? lowest : d.physical_start();
        uint64_t set_aside = 0;  // set-aside ranges are whole pages and disjoint
        for (size_t i = 0; i < ranges.set_aside_count(); ++i) {
            const SetAside& s = ranges.set_aside_at(i);
            const PhysAddr from = s.start < start ? start : s.start, to = s.end < end ? s.end : end;
            if (from < to) set_aside += (to - from) / kPageSize;
        }
        out.set_aside_frames += set_aside;
        const uint64_t frames = (end - start) / kPageSize - set_aside;
        size_t i = 0;
        while (i < out.count && out.entries[i].type != d.type_code()) ++i;
        if (i == out.count) {
            KASSERT(out.count < UsableByType::kMaxTypes);  // four types are usable (memory_ranges.cpp)
            out.entries[out.count++] = {d.type_code(), 0};
        }
        out.entries[i].frames += frames;
        out.total_frames += frames;
        if (d.type() != boot::EfiMemoryType::kConventional) out.reclaimed_frames += frames;
    }
    return out;
}
// book:end usable-by-type

}  // namespace mm
