// TlbFlush: the token that every change to a live mapping hands back.
//
// The CPU caches translations in its TLBs (SDM Vol. 3A, 4.10 "Caching
// Translation Information") and does NOT notice when a page-table entry in
// memory changes: until the stale entry is invalidated, the old translation
// may still be used (4.10.4.2 "Recommended Invalidation"). Forgetting the
// invalidation therefore compiles, boots and mostly works — until the one
// access that goes to the old frame.
//
// So the code that changes a present entry does not invalidate by itself and
// does not leave it to memory either: it returns a TlbFlush, and the caller
// must end it in one of exactly two ways:
//
//   flush()   invalidate the page now (INVLPG, through a TlbInvalidator);
//   ignore()  say, in code, that a stale translation is acceptable here (the
//             address space is not loaded yet, CR3 is about to be reloaded, or,
//             as in chapter 07's demonstration, the stale read is the point).
//
// A token dropped without either is a bug, and its destructor says so
// (KASSERT, in every build). [[nodiscard]] makes the compiler warn already
// when the token is not even kept. Modelled on the Rust x86_64 crate's
// MapperFlush and Zircon's ConsistencyManager ("Finish MUST be called").
#pragma once

#include "support/assert.h"
#include "support/units.h"
#include "mm/virt_addr.h"

namespace mm {

// How a TLB entry is invalidated. The kernel's implementation executes INVLPG
// (cpu_tlb.h); host tests record the calls instead.
class TlbInvalidator {
public:
    // Invalidates the TLB entries that translate the 4 KiB page at `page` on
    // this CPU (with INVLPG also every paging-structure-cache entry for the
    // current PCID: SDM Vol. 3A, 4.10.4.1).
    virtual void invalidate_page(VirtAddr page) = 0;

protected:
    ~TlbInvalidator() = default;  // never deleted through this interface
};

// book:begin tlb-flush
class [[nodiscard]] TlbFlush {
public:
    // The translation of the 4 KiB page at `page` changed; `tlb` can invalidate it.
    TlbFlush(VirtAddr page, TlbInvalidator& tlb) : page_(page), tlb_(&tlb) {
        KASSERT(page.is_aligned(kPageSize));
    }

    // Moving hands the obligation over: the moved-from token is finished.
    TlbFlush(TlbFlush&& other) : page_(other.page_), tlb_(other.tlb_) { other.tlb_ = nullptr; }
    TlbFlush(const TlbFlush&) = delete;
    TlbFlush& operator=(const TlbFlush&) = delete;
    TlbFlush& operator=(TlbFlush&&) = delete;  // would drop the pending token it overwrites

    ~TlbFlush() { KASSERT(!pending() && "a TlbFlush must end in flush() or ignore()"); }

    // Invalidates the page's translation now.
    void flush() {
        KASSERT(pending());
        TlbInvalidator* tlb = tlb_;
        tlb_ = nullptr;
        tlb->invalidate_page(page_);
    }

    // Leaves the TLB as it is, on purpose.
    void ignore() {
        KASSERT(pending());
        tlb_ = nullptr;
    }

    VirtAddr page() const { return page_; }
    bool pending() const { return tlb_ != nullptr; }

private:
    VirtAddr page_;
    TlbInvalidator* tlb_;  // null once flushed, ignored or moved from
};
// book:end tlb-flush

}  // namespace mm
