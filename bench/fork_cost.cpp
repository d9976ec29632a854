// Fork cost on the host: what chapter 14's copy-on-write clone takes to fork
// a process with N touched pages, against an eager fork that copies every
// page at once (the reference, written here on purpose), over a fake physical
// memory.
//
//   fork_cost PAGES MODE
//     PAGES   data pages the parent has touched (mapped RW), 1 … 65536
//     MODE    cow            clone_copy_on_write (common/mm/copy_on_write.cpp) and its flush
//             cow-write-all  the same, then the child writes every page: one
//                            resolve_cow_write per page (the worst case for copy-on-write)
//             eager          a new address space, and for every page a fresh frame,
//                            4 KiB copied, mapped and counted (map_counted_page)
//
// Only the fork (and the writes) are counted: bench/run.py runs this program
// under `valgrind --tool=callgrind --instr-atstart=no`, and the client
// requests switch instrumentation on around them. Building the parent and
// checking the result afterwards are not counted; the frame source and the
// counts' storage are flat arrays, so the count is the library's, not a
// container's. The CPU's part of a write fault (the exception, the return)
// is not modelled: cow-write-all is the kernel's work only.
//
// Output, one line: case=fork pages=… mode=… frames=… tables=… copied=… checked=… ns=…
// (frames: taken from the frame source by the fork and the writes; tables:
// the child's, its PML4 included; copied: pages whose 4 KiB were copied; ns:
// the wall time of the counted part, meaningful only outside valgrind).
#include <valgrind/callgrind.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fake_physical_memory.h"
#include "mm/copy_on_write.h"
#include "mm/counted_pages.h"
#include "mm/cow_write_fault.h"
#include "mm/frame_ref_counts.h"
#include "mm/user_leaves.h"

namespace {

constexpr mm::PhysAddr kBase{0x10'0000};
constexpr mm::VirtAddr kData{0x10'0000'0000};  // where chapter 14's programs mmap

// Frames of the fake memory: a stack of free ones, taken and given back in O(1).
class StackFrames final : public mm::FrameSource, public mm::FrameSink {
public:
    explicit StackFrames(const FakePhysicalMemory& memory) {
        for (size_t i = memory.frame_count(); i-- > 0;) free_.push_back(memory.base() + i * kPageSize);
    }
    mm::FrameResult alloc_frame() override {
        if (free_.empty()) return mm::FrameResult::out_of_memory();
        const mm::PhysAddr frame = free_.back();
        free_.pop_back();
        ++taken_;
        return mm::FrameResult::success(frame);
    }
    mm::FrameResult alloc_page_table_frame() override { return alloc_frame(); }
    size_t page_table_frames_available() const override { return free_.size(); }
    bool return_frame(mm::PhysAddr frame) override {
        free_.push_back(frame);
        return true;
    }
    uint64_t taken() const { return taken_; }

private:
    std::vector<mm::PhysAddr> free_;
    uint64_t taken_ = 0;
};

// The counts' pages as one flat buffer, indexed by frame (the kernel reaches
// them through the phys-offset window).
class FlatCountStorage final : public mm::RefCountStorage {
public:
    explicit FlatCountStorage(size_t frames) : counts_(frames * mm::FrameRefCounts::kCountsPerPage) {}
    uint16_t* counts_in(mm::PhysAddr frame) override {
        return &counts_[(frame - kBase) / kPageSize * mm::FrameRefCounts::kCountsPerPage];
    }

private:
    std::vector<uint16_t> counts_;
};

class CountingTlb final : public mm::TlbInvalidator {
public:
    void invalidate_page(mm::VirtAddr) override { ++pages; }
    uint64_t pages = 0;
};

// The reference: the child gets a copy of every page now, as a fork without
// copy-on-write does. Same address-space code, same frame source and counts.
bool eager_fork(mm::UserAddressSpace& parent, mm::UserAddressSpace& child, mm::PhysAddr kernel,
                mm::PhysicalMemoryAccess& memory, mm::FrameRefCounts& counts, mm::FrameSource& frames,
                uint64_t& copied) {
    if (child.create(kernel) != mm::UserMapStatus::kOk) return false;
    return mm::for_each_user_leaf(memory, parent.pml4(), [&](mm::VirtAddr page, mm::PageTableEntry& leaf) {
        const mm::FrameResult fresh = frames.alloc_frame();
        if (!fresh.ok()) return false;
        *memory.table_at(fresh.frame()) = *memory.table_at(leaf.address());
        ++copied;
        const uint64_t flags = leaf.raw() & ~(x86::pte::kAddressMask | x86::pte::kAccessed | x86::pte::kDirty);
        return map_counted_page(child, page, fresh.frame(), flags, counts).ok();
    });
}

uint64_t first_word(mm::PhysicalMemoryAccess& memory, mm::PhysAddr frame) {
    return memory.table_at(frame)->entries[0].raw();
}

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: fork_cost PAGES cow|cow-write-all|eager\n");
    std::exit(2);
}

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fork_cost: %s\n", what);
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) usage();
    char* end = nullptr;
    const unsigned long pages = std::strtoul(argv[1], &end, 10);
    const std::string mode = argv[2];
    if (*end != 0 || pages == 0 || pages > 65536) usage();
    if (mode != "cow" && mode != "cow-write-all" && mode != "eager") usage();

    // Parent pages, their copies, both processes' tables, the counts' pages.
    const size_t frame_count = 2 * pages + 2 * (pages / 512 + 8) + 64;
    FakePhysicalMemory memory(kBase, frame_count);
    StackFrames frames(memory);
    FlatCountStorage storage(frame_count);
    mm::FrameRefCounts counts;
    const mm::FrameRange all{kBase, kBase + frame_count * kPageSize};
    if (counts.init(&all, 1, frames, storage) != mm::RefCountInitStatus::kOk) fail("counts refused their init");
    CountingTlb tlb;

    const mm::PhysAddr kernel = kernel_half_table(memory, frames, kBase);  // as share_kernel_half leaves it

    // The parent: `pages` data pages, each touched (its first word is its number).
    mm::UserAddressSpace parent(memory, frames), child(memory, frames);
    if (parent.create(kernel) != mm::UserMapStatus::kOk) fail("no parent");
    for (uint64_t i = 0; i < pages; ++i) {
        const mm::PhysAddr frame = frames.alloc_frame().frame();
        memory.table_at(frame)->entries[0] = mm::PageTableEntry::from_raw(i + 1);
        if (!map_counted_page(parent, kData + i * kPageSize, frame, mm::user_flags::kData, counts).ok())
            fail("the parent's page did not map");
    }
    const uint64_t taken_before = frames.taken();

    uint64_t copied = 0;
    bool ok = true;
    const auto started = std::chrono::steady_clock::now();
    if (mode == "eager") {
        CALLGRIND_START_INSTRUMENTATION;
        ok = eager_fork(parent, child, kernel, memory, counts, frames, copied);
        CALLGRIND_STOP_INSTRUMENTATION;
    } else {
        CALLGRIND_START_INSTRUMENTATION;
        mm::CloneResult clone = mm::clone_copy_on_write(parent, child, kernel, memory, counts, frames, tlb);
        ok = clone.ok();
        if (ok) clone.flush.flush();
        if (ok && mode == "cow-write-all") {
            for (uint64_t i = 0; i < pages && ok; ++i) {
                mm::CowWriteResult fault =
                    mm::resolve_cow_write(child, kData + i * kPageSize, memory, counts, frames, tlb);
                ok = fault.outcome() == mm::CowWriteOutcome::kCopied;
                copied += ok;
                if (fault.leaf_changed()) fault.take_flush().flush();
            }
        }
        CALLGRIND_STOP_INSTRUMENTATION;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started);
    if (!ok) fail("the fork was refused");
    const uint64_t taken = frames.taken() - taken_before;

    // Not counted: the child sees every page's contents; a page is the
    // parent's frame exactly when it was not copied; the counts say so.
    uint64_t checked = 0, shared = 0;
    const bool walked = mm::for_each_user_leaf(memory, child.pml4(), [&](mm::VirtAddr page, mm::PageTableEntry& leaf) {
        const uint64_t i = (page - kData) / kPageSize;
        const mm::PageTableEntry* mine = mm::user_leaf(memory, parent.pml4(), page);
        if (mine == nullptr || first_word(memory, leaf.address()) != i + 1) return false;
        const bool same = mine->address() == leaf.address();
        shared += same;
        if (counts.count(leaf.address()) != (same ? 2u : 1u)) return false;
        ++checked;
        return true;
    });
    if (!walked || checked != pages) fail("the child does not see the parent's pages");
    if (shared != pages - copied) fail("pages shared and pages copied do not add up");
    if (taken != child.tables() + copied) fail("frames taken are not the child's tables and the copies");

    std::printf("case=fork pages=%lu mode=%s frames=%" PRIu64 " tables=%" PRIu64 " copied=%" PRIu64
                " checked=%" PRIu64 " ns=%lld\n",
                pages, mode.c_str(), taken, child.tables(), copied, checked, static_cast<long long>(ns.count()));
    return 0;
}
