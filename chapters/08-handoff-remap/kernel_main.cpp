// Chapter 08: leave the lower half.
//
// Everything the loader handed over is still reached through the identity
// map. This chapter moves the handoff and the memory map to the phys-offset
// window, checking each at its new address before a pointer changes, and then
// removes the identity map: page 0 and the whole lower half are unmapped, and
// the kernel runs on upper-half addresses only.
#include "boot/handoff.h"
#include "boot_frame_allocator.h"
#include "boot_memory.h"
#include "kernel.h"
#include "memory_manager.h"
#include "memory_map_log.h"
#include "panic.h"
#include "phys_window.h"
#include "ram_runs.h"
#include "support/log.h"

namespace {

mm::BootMemory g_memory;          // in .bss: the range list is too big for the stack
mm::BootFrameAllocator g_frames;  // every page-table frame comes from here

const uint8_t* identity_pointer(uint64_t physical) { return reinterpret_cast<const uint8_t*>(physical); }

[[noreturn]] void fail() { kernel::exit_kernel(boot::ExitCode::kFailure); }

// ---- the window check -------------------------------------------------------

struct WindowCheck {
    uint64_t addresses = 0;  // pages looked at through both mappings
    uint64_t written = 0;    // of which a pattern was written and restored
    mm::PhysAddr last_ram_page;
};

// May the check write to this page for a moment? Only to free memory that no
// one uses: not a page table the allocator handed out (the MMU may walk it at
// any time), not the kernel, the handoff, ACPI or firmware memory.
bool safe_to_write(mm::PhysAddr page) {
    const mm::MemoryRange* range = g_memory.ranges.find(page);
    return range != nullptr && range->kind == mm::RangeKind::kUsable && page >= mm::BootFrameAllocator::kLowestFrame &&
           !g_frames.was_handed_out(page);
}

// One page, seen both ways: the identity map (va == pa, chapter 04) and the
// window (va == base + pa). The first and last word of the page must agree;
// on free memory a fresh pattern written one way must be read the other way.
void check_page(mm::PhysAddr page, WindowCheck& check) {
    if (page.is_null()) return;  // page 0 is mapped in neither
    volatile uint64_t* identity = reinterpret_cast<volatile uint64_t*>(page.value());
    volatile uint64_t* window = mm::phys_to_pointer<volatile uint64_t>(page);
    constexpr size_t kLast = kPageSize / sizeof(uint64_t) - 1;
    bool same = identity[0] == window[0] && identity[kLast] == window[kLast];
    if (same && safe_to_write(page)) {
        const uint64_t saved = identity[kLast];
        const uint64_t pattern = 0x5749'4e44'0000'0000ull ^ page.value();  // "WIND"
        identity[kLast] = pattern;
        same = window[kLast] == pattern;
        identity[kLast] = saved;
        ++check.written;
    }
    if (!same) {
        klog::error("window").msg("check failed").kv("pa", klog::hex(page.value()))
            .kv("va", klog::hex(mm::phys_to_virt(page).value()));
        fail();
    }
    ++check.addresses;
}

// For every RAM run: its first, middle and last page, and every 1 GiB and
// 2 MiB boundary inside it (where page sizes change); and 256 pages spread
// over all of RAM by a fixed pseudo-random sequence.
void check_phys_window() {
    WindowCheck check;
    mm::for_each_ram_run(g_memory.ranges, [&](const mm::RamRun& run) {
        const mm::PhysAddr last(run.end.value() - kPageSize);
        check_page(run.start, check);
        check_page(mm::PhysAddr(align_down(run.start.value() + (run.end - run.start) / 2, kPageSize)), check);
        check_page(last, check);
        const uint64_t steps[] = {ONE_GB, TWO_MB};
        for (uint64_t step : steps) {
            uint64_t boundary = 0;
            if (!align_up(run.start.value() + 1, step, &boundary)) continue;
            for (int i = 0; i < 8 && boundary < run.end.value(); ++i, boundary += step) {
                check_page(mm::PhysAddr(boundary), check);
                check_page(mm::PhysAddr(boundary - kPageSize), check);
            }
        }
        check.last_ram_page = last;
        return true;
    });
    const uint64_t ram = g_memory.ranges.ram_end().value();
    uint64_t seed = 0x9E37'79B9'7F4A'7C15ull;
    for (int i = 0; i < 256; ++i) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;  // an LCG: the same pages every boot
        const mm::PhysAddr page(align_down((seed >> 11) % ram, kPageSize));
        const mm::MemoryRange* range = g_memory.ranges.find(page);
        if (range != nullptr && mm::is_ram(*range)) check_page(page, check);
    }
    klog::info("window").msg("check passed").kv("addresses", check.addresses).kv("written", check.written)
        .kv("last-ram-page", klog::hex(check.last_ram_page.value()))
        .kv("last-ram-page-va", klog::hex(mm::phys_to_virt(check.last_ram_page).value()));
}

// ---- after the identity map --------------------------------------------------

// book:begin prove-upper-half-only
// Everything the rest of the boot needs, reached at upper-half addresses only:
// the handoff (the command line is read from it), the memory map (validated
// again at its window address, and it must normalise to the same ranges), and
// the kernel's own code, data and stack, which never were in the lower half.
void prove_upper_half_only(const boot::BootHandoff& handoff) {
    static mm::BootMemory again;
    const mm::PhysAddr handoff_pa = mm::window_to_phys(&handoff);
    const uint8_t* map = mm::phys_to_pointer<const uint8_t>(mm::PhysAddr(handoff.memory_map));
    if (Violation v = mm::load_boot_memory(handoff, handoff_pa, map, &again); !v.ok()) {
        mm::log_rejection("remap", "handoff at its window address", v);
        fail();
    }
    bool same = again.ranges.count() == g_memory.ranges.count();
    for (size_t i = 0; same && i < again.ranges.count(); ++i)
        same = again.ranges[i].start == g_memory.ranges[i].start && again.ranges[i].end == g_memory.ranges[i].end &&
               again.ranges[i].kind == g_memory.ranges[i].kind;
    if (!same) {
        klog::error("remap").msg("memory map differs at its window address");
        fail();
    }
    klog::info("remap").msg("upper half only").kv("handoff-va", klog::hex(reinterpret_cast<uint64_t>(&handoff)))
        .kv("map-va", klog::hex(reinterpret_cast<uint64_t>(map))).kv("ranges", uint64_t(again.ranges.count()))
        .kv("ranges-equal", same).kv("cmdline", Str(kernel::command_line().value("probe")))
        .kv("reserve", uint64_t(g_frames.reserve_len()));
}
// book:end prove-upper-half-only

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    const mm::PhysAddr handoff_address(reinterpret_cast<uint64_t>(&loader_handoff));
    if (Violation v = mm::load_boot_memory(loader_handoff, handoff_address,
                                           identity_pointer(loader_handoff.memory_map), &g_memory);
        !v.ok()) {
        mm::log_rejection("memmap", "handoff", v);
        fail();
    }
    mm::log_ranges(g_memory.ranges);
    g_frames.init(g_memory.ranges);

    MemoryManager memory(loader_handoff, g_memory, g_frames);
    memory.activate();
    check_phys_window();
    const boot::BootHandoff& handoff = memory.remap_handoff();  // loader_handoff is a low address: done with it
    memory.remove_identity_map();
    prove_upper_half_only(handoff);
}
// book:end kernel-main
