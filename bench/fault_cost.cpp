// Fault cost on the host: what chapter 13's first touch costs per page, and
// what demand paging saves against mapping a region eagerly, over a fake
// physical memory.
//
//   fault_cost PAGES MODE
//     PAGES   pages to fill, 1 … 65536
//     MODE    lazy   a 1 GiB anonymous region; PAGES pages spread evenly over
//                    it are touched, each through the first-touch path: the
//                    fault decided by decide_fault (common/mm/demand_fault.cpp)
//                    against the process's regions, a frame taken, zeroed and
//                    mapped by UserAddressSpace::map_page — the kernel's
//                    serve_page for a zero-fill page, without the window
//          eager  the same region's first PAGES pages mapped up front, one
//                    after another, each a frame taken, zeroed and mapped (the
//                    reference: what chapter 12 did with a whole program)
//
// Only the faults (lazy) or the mapping (eager) are counted: bench/run.py
// runs this under `valgrind --tool=callgrind --instr-atstart=no`, and the
// client requests switch instrumentation on around them. The CPU's part of a
// fault (the exception, the walk, the return) is not modelled: this is the
// kernel's work per fault.
//
// Output, one line: case=fault pages=… mode=… frames=… tables=… ns=…
// (frames: taken from the frame source, pages and tables; ns: the wall time
// of the counted part, meaningful only outside valgrind).
#include <valgrind/callgrind.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fake_physical_memory.h"
#include "mm/demand_fault.h"
#include "mm/user_address_space.h"
#include "mm/user_layout.h"
#include "mm/user_regions.h"

namespace {

constexpr mm::PhysAddr kBase{0x10'0000};
constexpr uint64_t kGigabyte = 1ull << 30;

// Frames of the fake memory, handed out in order.
class LinearFrames final : public mm::FrameSource {
public:
    explicit LinearFrames(const FakePhysicalMemory& memory) : next_(memory.base()), end_(memory.base() + memory.frame_count() * kPageSize) {}
    mm::FrameResult alloc_frame() override {
        if (next_ >= end_) return mm::FrameResult::out_of_memory();
        const mm::PhysAddr frame = next_;
        next_ = next_ + kPageSize;
        ++taken_;
        return mm::FrameResult::success(frame);
    }
    mm::FrameResult alloc_page_table_frame() override { return alloc_frame(); }
    size_t page_table_frames_available() const override { return (end_ - next_) / kPageSize; }
    uint64_t taken() const { return taken_; }

private:
    mm::PhysAddr next_;
    mm::PhysAddr end_;
    uint64_t taken_ = 0;
};

// One page filled as serve_page fills a zero-fill page: a frame, zeroed, mapped.
bool fill(mm::UserAddressSpace& space, FakePhysicalMemory& memory, LinearFrames& frames, uint64_t page,
          uint64_t flags) {
    const mm::FrameResult frame = frames.alloc_frame();
    if (!frame.ok()) return false;
    std::memset(static_cast<void*>(memory.table_at(frame.frame())), 0, kPageSize);
    return space.map_page(mm::VirtAddr(page), frame.frame(), flags) == mm::UserMapStatus::kOk;
}

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: fault_cost PAGES lazy|eager\n");
    std::exit(2);
}

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fault_cost: %s\n", what);
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) usage();
    char* end = nullptr;
    const unsigned long pages = std::strtoul(argv[1], &end, 10);
    const std::string mode = argv[2];
    if (*end != 0 || pages == 0 || pages > 65536 || (mode != "lazy" && mode != "eager")) usage();

    const size_t frame_count = pages + 2 * (pages + 8) + 16;  // pages, their tables (a PT each at most), the rest
    FakePhysicalMemory memory(kBase, frame_count);
    LinearFrames frames(memory);

    const mm::PhysAddr kernel = kernel_half_table(memory, frames, kBase);  // as share_kernel_half leaves it
    mm::UserAddressSpace space(memory, frames);
    if (space.create(kernel) != mm::UserMapStatus::kOk) fail("no address space");
    mm::UserRegions regions;
    const uint64_t start = mm::kMmapBase;
    if (regions.add({start, start + kGigabyte, mm::region_rights::kRead | mm::region_rights::kWrite,
                     mm::RegionKind::kAnonymous}) != mm::RegionStatus::kOk)
        fail("the region was refused");
    const uint64_t taken_before = frames.taken();
    const uint64_t stride = mode == "lazy" ? (kGigabyte / pages) & ~(kPageSize - 1) : kPageSize;
    const mm::PageFaultError write_not_present{false, true, true, false, false, false, false, false};

    bool ok = true;
    const auto started = std::chrono::steady_clock::now();
    CALLGRIND_START_INSTRUMENTATION;
    for (uint64_t i = 0; i < pages && ok; ++i) {
        const uint64_t va = start + i * stride + (mode == "lazy" ? 8 : 0);  // a word inside the page
        if (mode == "lazy") {
            const mm::FaultDecision d = mm::decide_fault(regions, mm::VirtAddr(va), write_not_present);
            ok = d.action == mm::FaultAction::kZeroFill &&
                 fill(space, memory, frames, d.page, mm::region_leaf_flags(d.region.rights));
        } else {
            ok = fill(space, memory, frames, va, mm::user_flags::kData);
        }
    }
    CALLGRIND_STOP_INSTRUMENTATION;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started);
    if (!ok) fail("a page was not filled");
    if (space.pages() != pages) fail("the pages mapped are not the pages filled");
    std::printf("case=fault pages=%lu mode=%s frames=%" PRIu64 " tables=%" PRIu64 " ns=%" PRId64 "\n", pages,
                mode.c_str(), frames.taken() - taken_before, space.tables() - 1, int64_t(ns.count()));
    return 0;
}
