// Resolving a write fault on a copy-on-write page (chapter 14).
//
// After a clone, a write to a page shared copy-on-write faults (the leaf is
// read-only). The page is the writer's to change, so:
//
//   count 1   nobody else maps the frame any more (the other process copied
//             it, or exited): take it over — the leaf becomes writable again,
//             kCopyOnWrite cleared, no copy;
//   count >1  copy: a fresh frame from the one FrameSource, the 4 KiB copied,
//             the leaf pointed at it writable, the old frame's count down by
//             one (never to 0: someone else still maps it).
//
// What happened is the result (copied / taken over / not copy-on-write /
// out of frames), so the chapter can count pages copied against pages written.
// A leaf changed, so the result carries the flush the change needs; it must be
// taken (take_flush()) and ended like any TlbFlush before the process runs on.
#pragma once

#include <stdint.h>

#include "mm/copy_on_write.h"

namespace mm {

enum class CowWriteOutcome : uint8_t {
    kCopied,           // a new frame, a copy of the shared one
    kTakenOver,        // the last reference: the same frame, writable again
    kNotCopyOnWrite,   // no leaf, or a leaf without kCopyOnWrite: a real protection fault
    kOutOfFrames,      // a copy was needed and no frame was left (nothing changed)
};
const char* name(CowWriteOutcome outcome);

class [[nodiscard]] CowWriteResult {
public:
    static CowWriteResult unchanged(CowWriteOutcome outcome) { return CowWriteResult(outcome, PhysAddr(), PhysAddr()); }
    static CowWriteResult changed(CowWriteOutcome outcome, PhysAddr from, PhysAddr to, VirtAddr page, TlbInvalidator& tlb) {
        CowWriteResult r(outcome, from, to);
        r.page_ = page;
        r.tlb_ = &tlb;
        return r;
    }
    CowWriteResult(CowWriteResult&& other)
        : outcome_(other.outcome_), from_(other.from_), to_(other.to_), page_(other.page_), tlb_(other.tlb_) {
        other.tlb_ = nullptr;
    }
    CowWriteResult(const CowWriteResult&) = delete;
    CowWriteResult& operator=(const CowWriteResult&) = delete;
    CowWriteResult& operator=(CowWriteResult&&) = delete;
    ~CowWriteResult() { KASSERT(tlb_ == nullptr && "a changed leaf's flush must be taken"); }

    CowWriteOutcome outcome() const { return outcome_; }
    bool leaf_changed() const { return outcome_ == CowWriteOutcome::kCopied || outcome_ == CowWriteOutcome::kTakenOver; }
    PhysAddr from() const { return from_; }  // the shared frame
    PhysAddr to() const { return to_; }      // the frame now mapped writable (== from when taken over)

    // The flush for the changed leaf; only when leaf_changed(), and once.
    TlbFlush take_flush() {
        KASSERT(tlb_ != nullptr);
        TlbInvalidator* tlb = tlb_;
        tlb_ = nullptr;
        return TlbFlush(page_, *tlb);
    }

private:
    CowWriteResult(CowWriteOutcome outcome, PhysAddr from, PhysAddr to) : outcome_(outcome), from_(from), to_(to) {}
    CowWriteOutcome outcome_;
    PhysAddr from_;
    PhysAddr to_;
    VirtAddr page_;
    TlbInvalidator* tlb_ = nullptr;  // set while the flush is still to be taken
};

// The write fault at `address` in `space`. Frames for copies come from
// `frames` and are claimed in `counts`.
CowWriteResult resolve_cow_write(UserAddressSpace& space, VirtAddr address, PhysicalMemoryAccess& memory,
                                 FrameRefCounts& counts, FrameSource& frames, TlbInvalidator& tlb);

}  // namespace mm
