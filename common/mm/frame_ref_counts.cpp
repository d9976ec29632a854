#include "mm/frame_ref_counts.h"

#include "support/units.h"

namespace mm {

const char* describe(RefCountStatus status) {
    switch (status) {
        case RefCountStatus::kOk: return "ok";
        case RefCountStatus::kMisaligned: return "a frame address must be 4 KiB aligned";
        case RefCountStatus::kNotCovered: return "only a frame of the allocator's regions has a count";
        case RefCountStatus::kSaturated: return "a frame is mapped at most 65535 times";
        case RefCountStatus::kNotHeld: return "a frame must be mapped (count above 0) to be shared or released";
        case RefCountStatus::kAlreadyHeld: return "a frame must be unmapped (count 0) to be claimed";
    }
    return "unknown";
}

const char* name(RefCountStatus status) {
    switch (status) {
        case RefCountStatus::kOk: return "ok";
        case RefCountStatus::kMisaligned: return "misaligned";
        case RefCountStatus::kNotCovered: return "not-covered";
        case RefCountStatus::kSaturated: return "count-saturated";
        case RefCountStatus::kNotHeld: return "not-held";
        case RefCountStatus::kAlreadyHeld: return "already-held";
    }
    return "unknown";
}

const char* describe(RefCountInitStatus status) {
    switch (status) {
        case RefCountInitStatus::kOk: return "ok";
        case RefCountInitStatus::kTooManyRanges: return "at most as many ranges as the frame allocator has regions";
        case RefCountInitStatus::kBadRange: return "ranges must be non-empty, 4 KiB aligned, sorted and disjoint";
        case RefCountInitStatus::kTooManyFrames: return "the count directory covers at most 16 GiB of frames";
        case RefCountInitStatus::kOutOfFrames: return "no frame left for a page of counts";
    }
    return "unknown";
}

RefCountInitStatus FrameRefCounts::init(const FrameRange* ranges, size_t count, FrameSource& frames,
                                        RefCountStorage& storage) {
    range_count_ = 0;
    frames_ = count_pages_ = references_ = held_ = 0;
    storage_ = &storage;
    if (count > kMaxRanges) return RefCountInitStatus::kTooManyRanges;
    uint64_t total = 0;
    for (size_t i = 0; i < count; ++i) {
        const FrameRange& r = ranges[i];
        if (!r.start.is_aligned(kPageSize) || !r.end.is_aligned(kPageSize) || r.end <= r.start ||
            (i > 0 && r.start < ranges[i - 1].end))
            return RefCountInitStatus::kBadRange;
        total += (r.end - r.start) / kPageSize;
    }
    if (total > kMaxFrames) return RefCountInitStatus::kTooManyFrames;
    // The pages of counts first: a refusal leaves the counts covering nothing.
    const uint64_t pages = div_ceil(total, kCountsPerPage);
    for (uint64_t p = 0; p < pages; ++p) {
        const FrameResult got = frames.alloc_frame();
        if (!got.ok()) {
            count_pages_ = p;
            return RefCountInitStatus::kOutOfFrames;
        }
        pages_[p] = got.frame();
        Count* counts = storage.counts_in(got.frame());
        for (uint64_t i = 0; i < kCountsPerPage; ++i) counts[i] = 0;  // RAM holds garbage
    }
    count_pages_ = pages;
    // Numbered as the bitmap numbers them: region after region.
    for (size_t i = 0; i < count; ++i) {
        ranges_[i] = {ranges[i].start, ranges[i].end, frames_};
        frames_ += (ranges[i].end - ranges[i].start) / kPageSize;
    }
    range_count_ = count;
    return RefCountInitStatus::kOk;
}

RefCountInitStatus FrameRefCounts::init_beside(BitmapFrameAllocator& allocator, RefCountStorage& storage) {
    FrameRange ranges[kMaxRanges];
    const size_t count = allocator.region_count();
    if (count > kMaxRanges) return RefCountInitStatus::kTooManyRanges;
    for (size_t i = 0; i < count; ++i) ranges[i] = {allocator.region(i).start, allocator.region(i).end};
    return init(ranges, count, allocator, storage);
}

const FrameRefCounts::Range* FrameRefCounts::find(PhysAddr frame) const {
    size_t low = 0, high = range_count_;  // sorted and disjoint: a binary search
    while (low < high) {
        const size_t mid = (low + high) / 2;
        if (frame < ranges_[mid].start) high = mid;
        else if (frame >= ranges_[mid].end) low = mid + 1;
        else return &ranges_[mid];
    }
    return nullptr;
}

FrameRefCounts::Count& FrameRefCounts::slot(PhysAddr frame) const {
    const Range* range = find(frame);
    KASSERT(range != nullptr);
    const uint64_t index = range->first_index + (frame - range->start) / kPageSize;
    KASSERT(index / kCountsPerPage < count_pages_);
    return storage_->counts_in(pages_[index / kCountsPerPage])[index % kCountsPerPage];
}

RefCountStatus FrameRefCounts::check(PhysAddr frame) const {
    if (!frame.is_aligned(kPageSize)) return RefCountStatus::kMisaligned;
    if (find(frame) == nullptr) return RefCountStatus::kNotCovered;
    return RefCountStatus::kOk;
}

RefCountResult FrameRefCounts::claim(PhysAddr frame) {
    if (const RefCountStatus s = check(frame); s != RefCountStatus::kOk) return {s, 0};
    Count& c = slot(frame);
    if (c != 0) return {RefCountStatus::kAlreadyHeld, c};
    c = 1;
    ++references_;
    ++held_;
    return {RefCountStatus::kOk, c};
}

RefCountResult FrameRefCounts::share(PhysAddr frame) {
    if (const RefCountStatus s = check(frame); s != RefCountStatus::kOk) return {s, 0};
    Count& c = slot(frame);
    if (c == 0) return {RefCountStatus::kNotHeld, 0};
    if (c == kMaxCount) return {RefCountStatus::kSaturated, c};  // wrapping to 0 would free a mapped frame
    ++c;
    ++references_;
    return {RefCountStatus::kOk, c};
}

RefCountResult FrameRefCounts::release(PhysAddr frame) {
    if (const RefCountStatus s = check(frame); s != RefCountStatus::kOk) return {s, 0};
    Count& c = slot(frame);
    if (c == 0) return {RefCountStatus::kNotHeld, 0};
    --c;
    KASSERT(references_ > 0);
    --references_;
    if (c == 0) {
        KASSERT(held_ > 0);
        --held_;
    }
    return {RefCountStatus::kOk, c};
}

uint32_t FrameRefCounts::count(PhysAddr frame) const {
    return check(frame) == RefCountStatus::kOk ? slot(frame) : 0;
}

}  // namespace mm
