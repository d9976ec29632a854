#include "mm/shootdown_batch.h"

namespace mm {

bool round_is_full_flush(uint64_t pages, bool ranges_overflowed) {
    return pages > kFullFlushThreshold || ranges_overflowed;
}

// book:begin shootdown-batch
void ShootdownBatch::invalidate_page(VirtAddr page) {
    if (pages_in_round_ == kMaxPages) send_round();
    ++pages_in_round_;
    ++stats_.pages;
    FlushRequest& r = request_;
    if (r.range_count > 0) {
        FlushRange& last = r.ranges[r.range_count - 1];
        if (last.start + last.pages * kPageSize == page) {
            ++last.pages;
            ++r.pages;
            return;
        }
    }
    if (r.range_count == FlushRequest::kMaxRanges) r.full = true;  // no room to describe it: flush all
    else r.ranges[r.range_count++] = {page, 1};
    ++r.pages;
}

void ShootdownBatch::release_after_flush(const UnmappedPage& page) {
    // Only a page whose flush is in this round: its frame must not outlive the round's acks.
    KASSERT(held_ < pages_in_round_ && "flush the unmap's token into the batch before handing its frames over");
    held_pages_[held_++] = page;
}

// Invalidate here, ask the others and wait; only then give the frames back.
void ShootdownBatch::send_round() {
    if (pages_in_round_ > 0) {
        request_.full = round_is_full_flush(request_.pages, request_.full);
        // A full fence between the entries' stores and the mask's load: x86
        // may let a load pass an earlier store (SDM Vol. 3A, 8.2.3.4), and a
        // CPU that loads the space in that window would then walk the old
        // entries without being in the mask we read. With the fence, it is in
        // the mask, or it loads CR3 after our stores are visible.
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        const CpuMask loaded = loaded_.loaded();  // now: the round's entries are already changed
        if (loaded.has(self_)) transport_.invalidate_here(request_);
        const CpuMask others = loaded.without(self_);
        if (!others.empty()) transport_.send_and_wait(others, request_);
        ++stats_.rounds;
        stats_.ipis += others.count();
        stats_.targets = others.count();
        if (request_.full) ++stats_.full_rounds;
    }
    for (size_t i = 0; i < held_; ++i) space_.release(held_pages_[i], sink_, stats_.released);
    held_ = 0;
    pages_in_round_ = 0;
    request_ = FlushRequest{};
}
// book:end shootdown-batch

ShootdownStats ShootdownBatch::finish() {
    send_round();
    return stats_;
}

}  // namespace mm
