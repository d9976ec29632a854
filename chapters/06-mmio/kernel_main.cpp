// Chapter 06: device registers and the framebuffer, each with its memory type.
//
// Chapter 05's MemoryManager gains three steps: it programs the PAT (so that
// one PAT/PCD/PWT combination means write-combining), maps the LAPIC, IOAPIC
// and HPET uncached into the MMIO window, and the framebuffer write-combining
// into its own window. After the switch the kernel proves each mapping by
// using it: it reads the LAPIC's and IOAPIC's version registers and the
// HPET's capabilities, and draws a test pattern into the framebuffer.
#include "boot/handoff.h"
#include "boot_frame_allocator.h"
#include "boot_memory.h"
#include "address_space_layout.h"
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

// ---- the proofs: each mapping used --------------------------------------------

template <typename T>
T read_register(mm::VirtAddr base, uint64_t offset) {
    return *reinterpret_cast<volatile T*>(base.value() + offset);
}
template <typename T>
void write_register(mm::VirtAddr base, uint64_t offset, T value) {
    *reinterpret_cast<volatile T*>(base.value() + offset) = value;
}

// book:begin read-devices
// Registers every device of its kind has, read through the UC mappings:
// LAPIC ID and Version (SDM Vol. 3A, 11.4.8), the IOAPIC's version through
// its select/window pair (82093AA datasheet, 3.1), and the HPET's General
// Capabilities and ID register (IA-PC HPET specification 1.0a, 2.3.4).
void read_devices(const mm::MmioDevices& d) {
    const uint32_t lapic_version = read_register<uint32_t>(d.lapic, 0x30);
    klog::info("mmio").msg("lapic").kv("id", read_register<uint32_t>(d.lapic, 0x20) >> 24)
        .kv("version", klog::hex(lapic_version)).kv("max-lvt", (lapic_version >> 16) & 0xFF);
    if (!d.ioapic.is_null()) {
        write_register<uint32_t>(d.ioapic, 0x00, 0x01);  // IOREGSEL: register 1, IOAPICVER
        const uint32_t version = read_register<uint32_t>(d.ioapic, 0x10);  // IOWIN
        klog::info("mmio").msg("ioapic").kv("version", klog::hex(version))
            .kv("redirection-entries", ((version >> 16) & 0xFF) + 1);
    }
    if (!d.hpet.is_null()) {
        const uint64_t caps = read_register<uint64_t>(d.hpet, 0x00);
        klog::info("mmio").msg("hpet").kv("capabilities", klog::hex(caps)).kv("vendor", klog::hex((caps >> 16) & 0xFFFF))
            .kv("period-fs", caps >> 32).kv("timers", ((caps >> 8) & 0x1F) + 1).kv("counter-64bit", (caps & (1u << 13)) != 0);
    }
}
// book:end read-devices

// book:begin draw-pattern
// Eight vertical bars, left to right, in the colours of kBars (0xRRGGBB),
// written through the write-combining mapping; sfence drains the combining
// buffers so the pixels are in the framebuffer before the kernel reads one
// back from the middle of each bar.
constexpr uint32_t kBars[] = {0x000000, 0xFFFFFF, 0xFF0000, 0x00FF00, 0x0000FF, 0xFFFF00, 0x00FFFF, 0xFF00FF};
constexpr uint32_t kBarCount = sizeof(kBars) / sizeof(kBars[0]);

void draw_pattern(const boot::BootHandoff& h) {
    const bool bgrx = h.framebuffer_format == boot::PixelFormat::kBgrx;
    if (h.framebuffer_base == 0 || (!bgrx && h.framebuffer_format != boot::PixelFormat::kRgbx)) {
        klog::info("fb").msg("no pattern: no 32-bit linear framebuffer");
        return;
    }
    // In memory BGRX is B, G, R, X: as a little-endian word 0x00RRGGBB; RGBX swaps red and blue.
    auto pixel = [&](uint32_t rgb) { return bgrx ? rgb : (rgb & 0x00FF00) | (rgb >> 16) | ((rgb & 0xFF) << 16); };
    volatile uint32_t* fb = reinterpret_cast<volatile uint32_t*>(
        mm::layout::kFramebufferBase.value() + mm::PhysAddr(h.framebuffer_base).offset_in_page());
    for (uint32_t y = 0; y < h.framebuffer_height; ++y)
        for (uint32_t x = 0; x < h.framebuffer_width; ++x)
            fb[uint64_t(y) * h.framebuffer_stride + x] = pixel(kBars[uint64_t(x) * kBarCount / h.framebuffer_width]);
    asm volatile("sfence" ::: "memory");
    uint32_t matching = 0;
    for (uint32_t bar = 0; bar < kBarCount; ++bar) {
        const uint64_t x = (2 * bar + 1) * uint64_t(h.framebuffer_width) / (2 * kBarCount);
        matching += fb[uint64_t(h.framebuffer_height / 2) * h.framebuffer_stride + x] == pixel(kBars[bar]);
    }
    klog::info("fb").msg("pattern").kv("width", h.framebuffer_width).kv("height", h.framebuffer_height)
        .kv("stride", h.framebuffer_stride).kv("format", bgrx ? "bgrx" : "rgbx").kv("bars", kBarCount)
        .kv("read-back", matching);
    if (matching != kBarCount) fail();
}
// book:end draw-pattern

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& handoff) {
    const mm::PhysAddr handoff_address(reinterpret_cast<uint64_t>(&handoff));
    if (Violation v = mm::load_boot_memory(handoff, handoff_address, identity_pointer(handoff.memory_map), &g_memory);
        !v.ok()) {
        mm::log_rejection("memmap", "handoff", v);
        fail();
    }
    mm::log_ranges(g_memory.ranges);
    g_frames.init(g_memory.ranges);

    MemoryManager memory(handoff, g_memory, g_frames);
    memory.activate();
    check_phys_window();
    read_devices(memory.devices());
    draw_pattern(handoff);
    klog::info("frames").msg("page tables").kv("frames", memory.stats().tables_created + 1)
        .kv("handed-out", g_frames.frames_handed_out()).kv("reserve-left", uint64_t(g_frames.reserve_len()));
}
// book:end kernel-main
