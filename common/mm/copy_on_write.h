// Copy-on-write: cloning a process's address space (chapter 14).
//
// Why copy-on-write. fork() gives the child a copy of every page of the
// parent, and most of those copies are never written by either process (the
// child often replaces itself at once, or only reads). So the clone copies the
// page *tables* — a handful of frames — and shares the pages: each leaf of the
// child names the parent's frame. A page is copied only when one side writes
// it, at the page fault that write takes (cow_write_fault.h): pages copied ==
// pages written, not pages mapped.
//
// Why the parent is write-protected too. Sharing is only safe while nobody
// writes the shared frame, because a write through either mapping would be
// seen by both processes. The child's leaf is read-only, so the child faults;
// the parent's leaf must become read-only as well, or the parent's next
// write would land in the frame the child still reads. So every writable user
// page becomes read-only in BOTH tables and carries kCopyOnWrite, which says
// "writable in intent": a write fault on such a page is a copy, not a
// protection error. And because the parent's leaves changed while its TLB may
// hold the old writable translations, the clone hands back a flush token for
// them (WriteProtectFlush): until it is flushed the parent could still write
// the shared frame through a stale TLB entry.
//
// Why the counts live beside the allocator. Once frames are shared, a
// process cannot give its frames back at exit: the other process may still
// map them. Each frame counts the leaves that map it (FrameRefCounts, indexed
// like the allocator's bitmap), and a frame goes back to the one allocator
// only at its last release (counted_pages.h). The counts are per frame, not
// per process, so they sit with the per-frame state the allocator already
// keeps, not in any address space.
//
// What is shared how:
//   writable pages      read-only + kCopyOnWrite in both, count + 1
//   COW pages           (from an earlier fork) stay so, count + 1
//   read-only pages     shared as they are, count + 1
//   borrowed text       stays borrowed (user_flags::kBorrowed), never counted
//   page tables         copied, never shared: each process changes its own
//   the kernel half     the child's PML4 copies the kernel's 256 entries (create())
//
// All or nothing: the child's tables are built, and every count raised,
// before the parent is touched. Running out of frames (or a count that would
// saturate) part-way returns everything the child took and undoes every
// count, so parent and counts are exactly as they were, and names the refusal.
#pragma once

#include <stdint.h>

#include "mm/frame_ref_counts.h"
#include "mm/physical_memory.h"
#include "mm/tlb_flush.h"
#include "mm/user_address_space.h"

namespace mm {

namespace user_flags {
// Bit 10 of a 4 KiB page-table entry, ignored by the CPU and free for the OS
// (SDM Vol. 3A, 4.5, Table 4-20). Bit 9 already means "borrowed"; bit 11 is
// left alone because HLAT paging reads it (its "restart" bit). Set only on a
// read-only leaf: the page is writable in intent and shared until written.
inline constexpr uint64_t kCopyOnWrite = 1ull << 10;
}  // namespace user_flags

// The parent's leaves the clone write-protected, still to be invalidated in
// its TLB: a TlbFlush for many pages. flush() invalidates every
// copy-on-write leaf of the parent (INVLPG each: the parent is the running
// address space, fork being its system call) — the ones this clone made
// read-only, and any an earlier fork did, a harmless superset — or nothing
// when the clone write-protected nothing; ignore() says the parent is not
// loaded, so a CR3 load will drop its translations anyway. Its destructor
// asserts one of the two was called, like TlbFlush's. Flush before the
// parent runs again.
class [[nodiscard]] WriteProtectFlush {
public:
    WriteProtectFlush() = default;  // nothing to flush (a refused clone)
    WriteProtectFlush(PhysicalMemoryAccess& memory, PhysAddr pml4, TlbInvalidator& tlb, uint64_t pages)
        : memory_(&memory), pml4_(pml4), tlb_(&tlb), pages_(pages) {}
    WriteProtectFlush(WriteProtectFlush&& other)
        : memory_(other.memory_), pml4_(other.pml4_), tlb_(other.tlb_), pages_(other.pages_) {
        other.tlb_ = nullptr;
    }
    WriteProtectFlush(const WriteProtectFlush&) = delete;
    WriteProtectFlush& operator=(const WriteProtectFlush&) = delete;
    // Only over a finished token: overwriting a pending one would drop it.
    WriteProtectFlush& operator=(WriteProtectFlush&& other) {
        KASSERT(!pending());
        memory_ = other.memory_;
        pml4_ = other.pml4_;
        tlb_ = other.tlb_;
        pages_ = other.pages_;
        other.tlb_ = nullptr;
        return *this;
    }
    ~WriteProtectFlush() { KASSERT(!pending() && "a WriteProtectFlush must end in flush() or ignore()"); }

    // Invalidates each copy-on-write page of the parent; returns how many.
    uint64_t flush();
    void ignore() {
        KASSERT(pending());
        tlb_ = nullptr;
    }
    bool pending() const { return tlb_ != nullptr; }
    uint64_t pages() const { return pages_; }  // leaves the clone made read-only

private:
    PhysicalMemoryAccess* memory_ = nullptr;
    PhysAddr pml4_;
    TlbInvalidator* tlb_ = nullptr;  // null when finished, moved from, or nothing to flush
    uint64_t pages_ = 0;
};

enum class CloneStatus : uint8_t {
    kOk,
    kChildInUse,        // the child already has a PML4
    kOutOfFrames,       // no frame for one of the child's tables (or its PML4)
    kCountRefused,      // a shared frame's count refused (saturated, or not held: a bug)
    kChildMapRefused,   // the child's map_page refused a leaf the parent has (a bug)
};
const char* describe(CloneStatus status);  // the rule, for rule=
const char* name(CloneStatus status);      // a short name, for reason=

struct [[nodiscard]] CloneResult {
    CloneStatus status = CloneStatus::kOk;
    uint64_t copy_on_write = 0;  // leaves read-only + kCopyOnWrite in both after the clone
    uint64_t shared_read_only = 0;  // read-only leaves shared as they are
    uint64_t borrowed = 0;       // borrowed leaves, mapped in the child too
    uint64_t child_tables = 0;   // the child's PML4, PDPTs, PDs and PTs
    VirtAddr failed_at;          // the parent's page being cloned when it was refused
    RefCountStatus count_status = RefCountStatus::kOk;  // with kCountRefused
    UserMapStatus map_status = UserMapStatus::kOk;      // with kOutOfFrames / kChildMapRefused
    WriteProtectFlush flush;     // the parent's changed leaves (nothing pending unless kOk)
    bool ok() const { return status == CloneStatus::kOk; }
};

// Builds `child` (which must not be created yet) as a copy-on-write clone of
// `parent`: a new PML4 sharing the kernel half of `kernel_pml4`, new tables,
// the parent's frames shared as listed above, their counts raised. Tables
// come from the child's FrameSource; on a refusal they go back to `sink`
// and `child` is left uncreated.
CloneResult clone_copy_on_write(UserAddressSpace& parent, UserAddressSpace& child, PhysAddr kernel_pml4,
                                PhysicalMemoryAccess& memory, FrameRefCounts& counts, FrameSink& sink,
                                TlbInvalidator& tlb);

}  // namespace mm
