// Chapter 03: hand out physical frames, and prove none of them is taken.
//
// The memory map says which RAM is free; BootFrameAllocator turns that into
// frames, one 4 KiB page at a time, behind the FrameSource interface every
// later chapter allocates through. A self-test then allocates thousands of
// frames and checks each against the map and the loader's objects.
#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "exhaustion.h"
#include "kernel/kernel.h"
#include "mm/memory_map_log.h"
#include "kernel/panic.h"
#include "support/log.h"

namespace {

mm::BootMemory g_memory;
mm::BootFrameAllocator g_frames;

const uint8_t* identity_pointer(uint64_t physical) { return reinterpret_cast<const uint8_t*>(physical); }
// Until chapter 04 the loader's identity map is the only way to touch a frame.
volatile uint64_t* frame_words(mm::PhysAddr frame) { return reinterpret_cast<volatile uint64_t*>(frame.value()); }

[[noreturn]] void fail(const char* subsystem, const Violation& violation) {
    mm::log_rejection(subsystem, "handoff", violation);
    kernel::fail();
}

void log_regions(const char* event) {
    for (size_t i = 0; i < g_frames.region_count(); ++i) {
        const mm::BootFrameAllocator::Region& r = g_frames.region(i);
        klog::info("frames").msg(event).kv("index", uint64_t(i)).pad(36).kv("start", klog::hex(r.start))
            .pad(60).kv("end", klog::hex(r.end)).pad(84).kv("handed-out", r.frames_handed_out())
            .pad(104).kv("remaining", r.frames_remaining());
    }
}

void log_stats() {
    klog::info("frames").msg("stats").kv("handed-out", g_frames.frames_handed_out())
        .kv("remaining", g_frames.frames_remaining()).kv("reserve", uint64_t(g_frames.reserve_len()))
        .kv("regions", uint64_t(g_frames.region_count()));
}

// ---- the self-test -------------------------------------------------------------

// book:begin frame-problem
// Why a frame would be wrong to hand out; nullptr when it is fine.
const char* frame_problem(mm::PhysAddr frame) {
    if (!frame.is_aligned(kPageSize)) return "not 4 KiB aligned";
    if (frame < mm::BootFrameAllocator::kLowestFrame) return "below 1 MiB";
    const mm::MemoryRange* range = g_memory.ranges.find(frame);
    if (range == nullptr || range->kind != mm::RangeKind::kUsable || !range->contains(frame + (kPageSize - 1)))
        return "not wholly in usable memory";
    for (const mm::LoaderObject& o : g_memory.loader_objects)
        if (frame < o.start + o.size && o.start < frame + kPageSize) return "overlaps a loader object";
    if (!g_frames.was_handed_out(frame)) return "missing from the allocator's record";
    return nullptr;
}
// book:end frame-problem

[[noreturn]] void self_test_failed(mm::PhysAddr frame, const char* reason) {
    klog::error("frames").msg("self-test failed").kv("frame", klog::hex(frame)).kv("reason", reason);
    kernel::fail();
}

// book:begin stamps
// Each frame gets its sequence number written into its first and last word.
// If the allocator ever handed one frame out twice, the later number would
// overwrite the earlier one, and the read-back below finds it.
constexpr uint64_t kStampMagic = 0x5354'414d'5000'0000ull;  // "STAMP" in the high bytes
constexpr uint64_t kLastWord = kPageSize / sizeof(uint64_t) - 1;

constexpr size_t kSelfTestFrames = 4096;  // 16 MiB: fits the smallest machine we test (64 MiB)
mm::PhysAddr g_tested[kSelfTestFrames];

void self_test() {
    for (size_t i = 0; i < kSelfTestFrames; ++i) {
        const mm::FrameResult result = g_frames.alloc_frame();
        if (!result.ok()) self_test_failed(mm::PhysAddr(), "out of memory during the self-test");
        const mm::PhysAddr frame = result.frame();
        if (const char* problem = frame_problem(frame)) self_test_failed(frame, problem);
        frame_words(frame)[0] = kStampMagic | i;
        frame_words(frame)[kLastWord] = kStampMagic | i;
        g_tested[i] = frame;
    }
    for (size_t i = 0; i < kSelfTestFrames; ++i)
        if (frame_words(g_tested[i])[0] != (kStampMagic | i) || frame_words(g_tested[i])[kLastWord] != (kStampMagic | i))
            self_test_failed(g_tested[i], "handed out twice (its stamp was overwritten)");
// book:end stamps

    // Page-table frames come from the reserve first, which refill tops up.
    const size_t reserve_before = g_frames.reserve_len();
    const mm::FrameResult table = g_frames.alloc_page_table_frame();
    if (!table.ok() || g_frames.reserve_len() != reserve_before - 1) self_test_failed(mm::PhysAddr(), "reserve not used first");
    if (const char* problem = frame_problem(table.frame())) self_test_failed(table.frame(), problem);
    if (!g_frames.refill_reserve() || g_frames.reserve_len() != reserve_before) self_test_failed(mm::PhysAddr(), "reserve not refilled");

    klog::info("frames").msg("self-test passed").kv("frames", uint64_t(kSelfTestFrames))
        .kv("bytes", klog::size(kSelfTestFrames * kPageSize)).kv("first", klog::hex(g_tested[0]))
        .kv("last", klog::hex(g_tested[kSelfTestFrames - 1])).kv("duplicates", uint64_t(0))
        .kv("table-frame", klog::hex(table.frame()));
}

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& handoff) {
    const mm::PhysAddr handoff_address(reinterpret_cast<uint64_t>(&handoff));
    if (Violation v = mm::load_boot_memory(handoff, handoff_address, identity_pointer(handoff.memory_map), &g_memory);
        !v.ok())
        fail("memmap", v);
    (void)mm::log_refused_descriptors(g_memory.descriptors);
    mm::log_ranges(g_memory.ranges);
    mm::log_totals(g_memory.ranges);

    g_frames.init(g_memory.ranges);
    klog::info("frames").msg("allocator ready").kv("regions", uint64_t(g_frames.region_count()))
        .kv("free", klog::size(g_frames.frames_remaining() * kPageSize)).kv("reserve", uint64_t(g_frames.reserve_len()))
        .kv("lowest", klog::hex(mm::BootFrameAllocator::kLowestFrame))
        .kv("trimmed", klog::size(g_frames.trimmed_bytes()));
    log_regions("region");

    self_test();
    exhaust_if_requested(g_frames, frame_problem);  // test.exhaust: exhaustion.cpp
    log_stats();
    log_regions("usage");
}
// book:end kernel-main
