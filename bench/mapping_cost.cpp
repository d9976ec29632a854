// Mapping cost on the host: how many instructions PageTableBuilder spends to
// map a direct window, against a naive mapper that walks from the PML4 and
// writes one 4 KiB PTE per page (the reference, written here on purpose).
//
//   mapping_cost CASE MAPPER
//     CASE    window-<N>g     one run of N GiB at the phys window, 1 GiB pages allowed
//             window-<N>g-2m  the same on a CPU without 1 GiB pages
//             fragmented      a 16 GiB desktop-shaped memory map
//     MAPPER  builder      PageTableBuilder, the phys window's policy
//             builder-4k   PageTableBuilder, policy capped at 4 KiB pages
//             naive        the reference below
//
// Only the mapping itself is counted: bench/run.py runs this program under
// `valgrind --tool=callgrind --instr-atstart=no`, and the callgrind client
// requests switch instrumentation on around the map calls. Setting up the fake
// memory and checking the result afterwards are not counted. Without valgrind
// the requests do nothing and the program still maps and checks.
//
// Output, one line: case=… mapper=… bytes=… runs=… tables=… pages-4k=… pages-2m=… pages-1g=… checked=…
#include <valgrind/callgrind.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mm/address_space_layout.h"
#include "fake_physical_memory.h"
#include "mm/mapping_policy.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_lookup.h"

namespace {

constexpr uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024;

struct Run {
    uint64_t start, end;
};

// RAM and ACPI runs (touching ranges already merged, reserved and MMIO holes
// left out) of a typical 16 GiB x86 desktop: conventional memory, a few
// firmware holes with 4 KiB-aligned edges below 4 GiB, then the bulk above it.
const std::vector<Run> kFragmented = {
    {0x0000'0000, 0x0009'f000},      {0x0010'0000, 0x09d1'f000},      {0x0a00'0000, 0x0a20'e000},
    {0x0a20'f000, 0xb8b3'c000},      {0xb8e9'b000, 0xb9a6'e000},      {0xba9f'f000, 0xbc00'0000},
    {0xbd00'0000, 0xbdf0'0000},      {0x1'0000'0000, 0x4'3f38'0000},
};

// Hands out the fake memory's frames in order: the same source for every mapper.
class BumpFrames final : public mm::FrameSource {
public:
    explicit BumpFrames(const FakePhysicalMemory& memory) : memory_(memory) {}
    mm::FrameResult alloc_frame() override { return take(); }
    mm::FrameResult alloc_page_table_frame() override { return take(); }
    size_t page_table_frames_available() const override { return memory_.frame_count() - used_; }
    size_t used() const { return used_; }

private:
    mm::FrameResult take() {
        if (used_ == memory_.frame_count()) return mm::FrameResult::out_of_memory();
        return mm::FrameResult::success(memory_.base() + uint64_t(used_++) * kPageSize);
    }
    const FakePhysicalMemory& memory_;
    size_t used_ = 0;
};

// The reference: for every 4 KiB page, walk down from the PML4, creating each
// missing table (zeroed) on the way, and write one PTE. Same entry type, same
// frame source, same memory access as the builder; no large pages, no
// up-front check of the whole range.
class NaiveMapper {
public:
    NaiveMapper(mm::PhysAddr pml4, mm::PhysicalMemoryAccess& memory, mm::FrameSource& frames)
        : pml4_(pml4), memory_(memory), frames_(frames) {}

    bool map(mm::VirtAddr va, mm::PhysAddr pa, uint64_t length, uint64_t leaf_flags) {
        for (uint64_t offset = 0; offset < length; offset += kPageSize) {
            const uint64_t v = va.value() + offset;
            mm::PageTable* table = memory_.table_at(pml4_);
            for (int level = 4; level > 1; --level) {
                mm::PageTableEntry& entry = table->entries[(v >> (12 + 9 * (level - 1))) & 511];
                if (!entry.present()) {
                    const mm::FrameResult frame = frames_.alloc_page_table_frame();
                    if (!frame.ok()) return false;
                    std::memset(static_cast<void*>(memory_.table_at(frame.frame())), 0, kPageSize);
                    entry.set(static_cast<mm::PageTableLevel>(level), frame.frame(), mm::kTableEntryFlags);
                    ++tables_;
                }
                table = memory_.table_at(entry.address());
            }
            mm::PageTableEntry& pte = table->entries[(v >> 12) & 511];
            if (pte.present()) return false;  // already mapped: refuse, like the builder
            pte.set(mm::PageTableLevel::kPt, pa + offset, leaf_flags);
            ++pages_;
        }
        return true;
    }
    uint64_t tables() const { return tables_; }
    uint64_t pages() const { return pages_; }

private:
    mm::PhysAddr pml4_;
    mm::PhysicalMemoryAccess& memory_;
    mm::FrameSource& frames_;
    uint64_t tables_ = 0, pages_ = 0;
};

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: mapping_cost window-<N>g[-2m]|fragmented "
                 "builder|builder-4k|naive\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) usage();
    const std::string which = argv[1], mapper = argv[2];

    std::vector<Run> runs;
    bool one_gib = true;
    if (which == "fragmented") {
        runs = kFragmented;
    } else {
        // window-<N>g, or window-<N>g-2m for a CPU without 1 GiB pages.
        unsigned gib = 0;
        char rest[8] = {};
        if (std::sscanf(which.c_str(), "window-%ug%7s", &gib, rest) < 1 || gib == 0 || gib > 4096) usage();
        if (std::strcmp(rest, "-2m") == 0) one_gib = false;
        else if (rest[0] != 0) usage();
        runs = {{0, gib * kGiB}};
    }
    if (mapper != "builder" && mapper != "builder-4k" && mapper != "naive") usage();

    uint64_t bytes = 0;
    for (const Run& run : runs) bytes += run.end - run.start;
    // Enough frames for 4 KiB pages everywhere: a PT per 2 MiB, a PD per GiB,
    // a PDPT per 512 GiB, a few more at the edges of each run, the PML4.
    const uint64_t pages = bytes / kPageSize;
    // PageTableBuilder with large pages needs at most a PD per GiB and a few PTs per run.
    const bool four_kib_only = mapper != "builder";
    const size_t frames_needed = size_t((four_kib_only ? pages / 512 : 0) + pages / (512 * 512) +
                                        4 * runs.size() + 8);
    FakePhysicalMemory memory(mm::PhysAddr(0x10'0000), frames_needed);
    BumpFrames frames(memory);

    const mm::FrameResult root = mm::PageTableBuilder::create_pml4(memory, frames);
    if (!root.ok()) return 1;
    const mm::PhysAddr pml4 = root.frame();
    const mm::MappingPolicy policy = mapper == "builder-4k"
                                         ? mm::MappingPolicy{mm::leaf_flags::kPhysWindow, mm::PageSize::k4KiB}
                                         : mm::phys_window_policy();
    const mm::VirtAddr base = mm::layout::kPhysWindowBase;
    const size_t frames_before = frames.used();

    mm::MapStats stats;
    bool ok = true;
    if (mapper == "naive") {
        NaiveMapper naive(pml4, memory, frames);
        CALLGRIND_START_INSTRUMENTATION;
        for (const Run& run : runs)
            ok = ok && naive.map(base + run.start, mm::PhysAddr(run.start), run.end - run.start, policy.leaf_flags);
        CALLGRIND_STOP_INSTRUMENTATION;
        stats.pages_4k = naive.pages();
        stats.tables_created = naive.tables();
    } else {
        mm::PageTableBuilder builder(pml4, memory, frames, one_gib);
        CALLGRIND_START_INSTRUMENTATION;
        for (const Run& run : runs)
            ok = ok && builder.map_range(base + run.start, mm::PhysAddr(run.start), run.end - run.start, policy).ok();
        CALLGRIND_STOP_INSTRUMENTATION;
        stats = builder.stats();
    }
    if (!ok) {
        std::fprintf(stderr, "mapping_cost: %s %s: a map call was refused\n", which.c_str(), mapper.c_str());
        return 1;
    }
    if (stats.bytes_mapped() != bytes) {
        std::fprintf(stderr, "mapping_cost: mapped %" PRIu64 " bytes of %" PRIu64 "\n", stats.bytes_mapped(), bytes);
        return 1;
    }
    if (frames.used() - frames_before != stats.tables_created) {
        std::fprintf(stderr, "mapping_cost: tables counted %" PRIu64 " but %zu frames taken\n",
                     stats.tables_created, frames.used() - frames_before);
        return 1;
    }

    // Not counted: every run's first, middle and last page translate to the
    // right physical address, and the byte after each run is unmapped.
    unsigned checked = 0;
    for (const Run& run : runs) {
        const uint64_t middle = run.start + ((run.end - run.start) / 2 & ~(kPageSize - 1));
        for (uint64_t pa : {run.start, middle, run.end - kPageSize}) {
            const mm::Translation t = mm::translate(pml4, memory, base + pa + 8);
            if (!t.present || t.pa.value() != pa + 8) {
                std::fprintf(stderr, "mapping_cost: pa 0x%" PRIx64 " does not translate back\n", pa);
                return 1;
            }
            ++checked;
        }
        const bool next_is_mapped = std::find_if(runs.begin(), runs.end(), [&](const Run& r) {
                                        return r.start == run.end;
                                    }) != runs.end();
        if (!next_is_mapped && mm::translate(pml4, memory, base + run.end).present) {
            std::fprintf(stderr, "mapping_cost: 0x%" PRIx64 " mapped past the run's end\n", run.end);
            return 1;
        }
    }

    std::printf("case=%s mapper=%s bytes=%" PRIu64 " runs=%zu tables=%" PRIu64 " pages-4k=%" PRIu64
                " pages-2m=%" PRIu64 " pages-1g=%" PRIu64 " checked=%u\n",
                which.c_str(), mapper.c_str(), bytes, runs.size(),
                stats.tables_created, stats.pages_4k, stats.pages_2m, stats.pages_1g, checked);
    return 0;
}
