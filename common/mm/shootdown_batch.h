// ShootdownBatch: unmapping pages of an address space that other CPUs may
// be running, without freeing a frame one of them can still reach
// (chapter 15).
//
// Each CPU caches translations in its own TLB, and INVLPG or a CR3 load
// invalidates only the executing CPU's (SDM Vol. 3A, 4.10.5 "Propagation of
// Paging-Structure Changes to Multiple Processors"). A CPU that changes a
// mapping another CPU may be using must ask that CPU to invalidate too —
// with an interprocessor interrupt, the "TLB shootdown" — and must wait for
// its answer before the old frame is reused: until then the other CPU can
// read and write the frame through its stale entry.
//
// The batch is the TlbInvalidator every unmap's TlbFlush token is flushed
// into (tlb_flush.h), so the token's one way out now means "invalidate on
// every CPU that has this address space loaded":
//
//   ShootdownBatch batch(self, space_cpus, transport, space, sink);
//   for each page:
//       TlbFlush flush = space.unmap_page(va, batch, &unmapped);
//       flush.flush();                  // recorded in the batch, nothing sent yet
//       batch.release_after_flush(unmapped);   // frames held, not freed
//   ShootdownStats s = batch.finish();  // invalidate here, IPI the others,
//                                       // wait for every ack, then free
//
// The rules, each in one place below:
//   - targets: the CPUs that have the space loaded, less the initiator (it
//     invalidates its own TLB directly). A CPU that has another CR3 loaded
//     holds no entry of this space: without PCIDs, loading CR3 invalidated
//     all its non-global entries (4.10.4.1), and user pages are never global;
//   - batching: pages are collected and coalesced into ranges of
//     consecutive pages; one IPI per target per round, not per page;
//   - full flush: a round of more than kFullFlushThreshold pages, or of more
//     ranges than a request carries, asks every target to reload CR3 instead
//     of executing INVLPG per page (Linux's tlb_single_page_flush_ceiling,
//     33 there: a full flush costs refills, many INVLPGs cost more);
//   - a round ends early when kMaxPages pages are held: frames wait in the
//     batch, and its room is finite (Linux's mmu_gather does the same);
//   - frames (and emptied tables) go back to the sink only after the
//     transport has returned, that is after every target acknowledged.
// A batch dropped with pages still held is a bug its destructor names, like
// a TlbFlush dropped unflushed.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/cpu_mask.h"
#include "mm/tlb_flush.h"
#include "mm/user_address_space.h"
#include "mm/virt_addr.h"

namespace mm {

inline constexpr uint64_t kFullFlushThreshold = 8;  // pages; above: one CR3 reload per target

// Consecutive pages [start, start + pages * 4 KiB).
struct FlushRange {
    VirtAddr start;
    uint64_t pages = 0;
};

// What each target is asked to do: INVLPG every page of the ranges, or (full)
// reload CR3.
struct FlushRequest {
    static constexpr size_t kMaxRanges = 4;
    FlushRange ranges[kMaxRanges];
    size_t range_count = 0;
    uint64_t pages = 0;
    bool full = false;
};

// How a request reaches CPUs: the kernel's sends IPIs (mm/kernel/tlb_shootdown.h),
// the host tests' records.
class ShootdownTransport {
public:
    // Carries out `request` on this CPU.
    virtual void invalidate_here(const FlushRequest& request) = 0;
    // One IPI to each CPU of `targets` (never this one); returns once every
    // one of them has carried out `request` and acknowledged.
    virtual void send_and_wait(CpuMask targets, const FlushRequest& request) = 0;

protected:
    ~ShootdownTransport() = default;
};

// What finish() did, over every round.
struct ShootdownStats {
    uint64_t rounds = 0;          // requests sent (or carried out here only)
    uint64_t pages = 0;           // pages unmapped
    uint64_t ipis = 0;            // one per target per round
    uint64_t full_rounds = 0;     // rounds that asked for a full flush
    uint64_t targets = 0;         // CPUs targeted (the last round's)
    ReleasedFrames released;      // given back after the acks
};

class ShootdownBatch final : public TlbInvalidator {
public:
    static constexpr size_t kMaxPages = 32;  // held before a round must end

    // `self`: the initiating CPU; `loaded`: the space's CPUs, read at each
    // round, after the round's entries were changed (a CPU that loads the
    // space after that walks the new tables, and is no target).
    ShootdownBatch(unsigned self, const LoadedCpus& loaded, ShootdownTransport& transport, UserAddressSpace& space,
                   FrameSink& sink)
        : self_(self), loaded_(loaded), transport_(transport), space_(space), sink_(sink) {}
    ShootdownBatch(const ShootdownBatch&) = delete;
    ShootdownBatch& operator=(const ShootdownBatch&) = delete;
    ~ShootdownBatch() { KASSERT(held_ == 0 && pages_in_round_ == 0 && "a ShootdownBatch must end in finish()"); }

    // TlbInvalidator: a TlbFlush's flush() lands here. The page is recorded;
    // a full round is sent before it.
    void invalidate_page(VirtAddr page) override;

    // The frames and tables an unmap took off, after its token was flushed
    // into this batch: returned to the sink once every CPU has invalidated.
    void release_after_flush(const UnmappedPage& page);

    // Sends what is left and frees what is held; the totals of every round.
    ShootdownStats finish();


private:
    void send_round();

    unsigned self_;
    const LoadedCpus& loaded_;
    ShootdownTransport& transport_;
    UserAddressSpace& space_;
    FrameSink& sink_;
    FlushRequest request_;
    uint64_t pages_in_round_ = 0;
    UnmappedPage held_pages_[kMaxPages];
    size_t held_ = 0;
    ShootdownStats stats_;
};

// The request a round of `pages` pages in `ranges` becomes: a full flush
// above kFullFlushThreshold pages or when the ranges did not fit.
bool round_is_full_flush(uint64_t pages, bool ranges_overflowed);

}  // namespace mm
