// Chapter 07: a temporary window, and why every TLB flush is a token.
//
// Chapter 06's MemoryManager gets one more phase, create_temporary_window: one
// fixed page (0xFFFFFFFE00000000) whose page table exists from the start, so
// that any frame can be looked at through it without allocating. Mapping and
// unmapping it execute INVLPG; a self-test maps thousands of frames in turn
// and checks every read and write through the phys-offset window.
//
// `test.stale-tlb` on the command line shows what happens without INVLPG: the
// window is pointed at frame B while the CPU still caches its translation to
// frame A, and a read returns A's value; the same again with the flush reads B.
#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "kernel/kernel.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel/phys_window_check.h"
#include "memory_manager.h"
#include "stale_tlb.h"
#include "test_frames.h"
#include "kernel/panic.h"
#include "mm/phys_window.h"
#include "mm/ram_runs.h"
#include "support/log.h"
#include "mm/temporary_window.h"
#include "mm/tlb_flush.h"

namespace {


// ---- the temporary window -------------------------------------------------------

[[noreturn]] void window_mismatch(const char* what, mm::PhysAddr frame, uint64_t expected, uint64_t got) {
    klog::error("tlb").msg("self-test failed").kv("what", what).kv("pa", klog::hex(frame))
        .kv("expected", klog::hex(expected)).kv("got", klog::hex(got));
    kernel::fail();
}

// book:begin window-self-test
// Maps frames into the window one after the other, thousands of times. Each
// one must show its own contents, never the previous frame's: a missing
// invalidation would let the CPU keep translating the slot to the frame
// mapped before. Part 1 cycles through kFrames frames of its own, reading
// through the window what it last wrote there and writing a new value, which
// the phys window must then show. Part 2 reads up to kSweep frames spread
// over all of RAM and compares two words with the phys window's view.
void self_test_temporary_window(mm::TemporaryWindow& window, const mm::CpuTlb& tlb, mm::BootIntake& intake) {
    constexpr size_t kFrames = 16;
    constexpr uint64_t kRounds = 4096;
    constexpr uint64_t kSweep = 8192;
    const uint64_t maps_before = window.maps(), invalidations_before = tlb.invalidations();

    mm::PhysAddr frames[kFrames];
    uint64_t last_written[kFrames];
    for (size_t i = 0; i < kFrames; ++i) {
        frames[i] = take_frame(intake.frames);
        last_written[i] = 0x5445'4d50'0000'0000ull | frames[i].value();  // "TEMP"
        *through_phys_window(frames[i]) = last_written[i];
    }
    for (uint64_t round = 0; round < kRounds; ++round) {
        const size_t i = round % kFrames;
        const uint64_t value = (round << 32) ^ frames[i].value() ^ 0x0077'0000'0000'0077ull;
        {
            mm::TemporaryMapping mapping = window.map(frames[i]);
            volatile uint64_t* word = mapping.ptr<volatile uint64_t>();
            if (*word != last_written[i]) window_mismatch("read", frames[i], last_written[i], *word);
            *word = value;
        }
        if (*through_phys_window(frames[i]) != value)
            window_mismatch("write", frames[i], value, *through_phys_window(frames[i]));
        last_written[i] = value;
    }

    uint64_t ram_pages = 0;
    mm::for_each_ram_run(intake.memory.ranges, [&](const mm::RamRun& run) {
        ram_pages += (run.end - run.start) / kPageSize;
        return true;
    });
    const uint64_t stride = ram_pages > kSweep ? div_ceil(ram_pages, kSweep) : 1;
    uint64_t swept = 0, page_number = 0;
    constexpr size_t kLast = kPageSize / sizeof(uint64_t) - 1;
    mm::for_each_ram_run(intake.memory.ranges, [&](const mm::RamRun& run) {
        for (mm::PhysAddr frame = run.start; frame < run.end; frame = frame + kPageSize, ++page_number) {
            if (page_number % stride != 0) continue;
            mm::TemporaryMapping mapping = window.map(frame);
            const volatile uint64_t* words = mapping.ptr<volatile uint64_t>();
            if (words[0] != *through_phys_window(frame, 0))
                window_mismatch("sweep", frame, *through_phys_window(frame, 0), words[0]);
            if (words[kLast] != *through_phys_window(frame, kLast))
                window_mismatch("sweep", frame, *through_phys_window(frame, kLast), words[kLast]);
            ++swept;
        }
        return true;
    });

    klog::info("tlb").msg("self-test passed").kv("rounds", kRounds).kv("frames", uint64_t(kFrames))
        .kv("swept", swept).kv("stride", stride).kv("maps", window.maps() - maps_before)
        .kv("invlpg", tlb.invalidations() - invalidations_before);
}
// book:end window-self-test


}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& handoff) {
    mm::BootIntake& intake = mm::start_boot_memory(handoff);

    chapter07::MemoryManager memory(intake.handoff, intake.memory, intake.frames);
    memory.activate();
    mm::check_phys_window(intake.memory.ranges, intake.frames);
    self_test_temporary_window(memory.temporary_window(), memory.tlb(), intake);
    demonstrate_stale_tlb_if_requested(memory.temporary_window(), intake.frames);  // stale_tlb.cpp
    klog::info("frames").msg("page tables").kv("frames", memory.stats().tables_created + 1)
        .kv("handed-out", intake.frames.frames_handed_out()).kv("reserve-left", uint64_t(intake.frames.reserve_len()));
    const mm::TemporaryWindow& window = memory.temporary_window();
    klog::info("tlb").msg("window idle").kv("va", klog::hex(window.slot())).kv("mapped", window.in_use())
        .kv("maps", window.maps()).kv("invlpg", memory.tlb().invalidations());
}
// book:end kernel-main
