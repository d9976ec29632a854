// Chapter 06: device registers and the framebuffer, each with its memory type.
//
// Chapter 05's MemoryManager gains three steps: it programs the PAT (so that
// one PAT/PCD/PWT combination means write-combining), maps the LAPIC, IOAPIC
// and HPET uncached into the MMIO window, and the framebuffer write-combining
// into its own window. After the switch the kernel proves each mapping by
// using it: it reads the LAPIC's and IOAPIC's version registers and the
// HPET's capabilities, and draws a test pattern into the framebuffer.
#include "acpi_in_reserved_memory.h"
#include "mm/address_space_layout.h"
#include "arch/x86/cpu.h"
#include "boot/handoff.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"
#include "kernel/kernel.h"
#include "mm/kernel/boot_intake.h"
#include "mm/kernel/phys_window_check.h"
#include "memory_manager.h"
#include "kernel/panic.h"
#include "kernel/screen_console.h"
#include "kernel/text_screen.h"
#include "mm/phys_window.h"
#include "support/log.h"

namespace {


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
// LAPIC ID and Version (SDM Vol. 3A, 10.4.8), the IOAPIC's version through
// its select/window pair (82093AA datasheet, 3.1), and the HPET's General
// Capabilities and ID register (IA-PC HPET specification 1.0a, 2.3.4). In
// x2APIC mode the LAPIC has no page: the same two registers are MSRs (SDM
// Vol. 3A, 10.12.1.2), and the ID is all 32 bits of its MSR.
void read_devices(const mm::MmioDevices& d) {
    if (d.lapic_mode == mm::LapicMode::kX2Apic) {
        const uint32_t version = uint32_t(x86::rdmsr(x86::kMsrX2ApicVersion));
        klog::info("mmio").msg("lapic").kv("mode", "x2apic").kv("id", uint32_t(x86::rdmsr(x86::kMsrX2ApicId)))
            .kv("version", klog::hex(version)).kv("max-lvt", (version >> 16) & 0xFF);
    } else if (!d.lapic.is_null()) {
        const uint32_t version = read_register<uint32_t>(d.lapic, 0x30);
        klog::info("mmio").msg("lapic").kv("mode", "xapic").kv("id", read_register<uint32_t>(d.lapic, 0x20) >> 24)
            .kv("version", klog::hex(version)).kv("max-lvt", (version >> 16) & 0xFF);
    }
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

void draw_pattern(const mm::HandoffFramebuffer& h) {
    // Every pixel written lies inside the mapping: GOP's FrameBufferSize bounds height x stride x 4.
    if (Violation v = kernel::check_framebuffer_geometry(h.geometry()); !v.ok()) {
        klog::info("fb").msg("no pattern").kv("field", v.field).kv("value", klog::hex(v.value)).kv("rule", v.rule);
        return;
    }
    kernel::release_screen("test pattern");  // the log stays on serial only: the pattern is the screen's now
    // RGBX, BGRX or the firmware's bit masks: one encoder (kernel/pixel_encoding.h).
    kernel::PixelEncoding encoding;
    (void)kernel::pixel_encoding(h.format, h.masks, &encoding);  // the check above accepted it
    auto pixel = [&](uint32_t rgb) { return encoding.encode(rgb); };
    volatile uint32_t* fb = reinterpret_cast<volatile uint32_t*>(
        mm::layout::kFramebufferBase.value() + h.base.offset_in_page());
    for (uint32_t y = 0; y < h.height; ++y)
        for (uint32_t x = 0; x < h.width; ++x)
            fb[uint64_t(y) * h.stride + x] = pixel(kBars[uint64_t(x) * kBarCount / h.width]);
    asm volatile("sfence" ::: "memory");
    uint32_t matching = 0;
    for (uint32_t bar = 0; bar < kBarCount; ++bar) {
        const uint64_t x = (2 * bar + 1) * uint64_t(h.width) / (2 * kBarCount);
        matching += fb[uint64_t(h.height / 2) * h.stride + x] == pixel(kBars[bar]);
    }
    klog::info("fb").msg("pattern").kv("width", h.width).kv("height", h.height)
        .kv("stride", h.stride).kv("format", boot::pixel_format_name(h.format)).kv("bars", kBarCount)
        .kv("read-back", matching);
    if (matching != kBarCount) kernel::fail();
}
// book:end draw-pattern

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& handoff) {
    put_acpi_tables_in_reserved_memory_if_requested(handoff);  // a firmware shape, beside the story: acpi_in_reserved_memory.cpp
    mm::BootIntake& intake = mm::start_boot_memory(handoff);

    chapter06::MemoryManager memory(intake.handoff, intake.memory, intake.frames);
    memory.activate();
    mm::check_phys_window(intake.memory.ranges, intake.frames);
    read_devices(memory.devices());
    draw_pattern(intake.handoff.framebuffer);
    klog::info("frames").msg("page tables").kv("frames", memory.stats().tables_created + 1)
        .kv("handed-out", intake.frames.frames_handed_out()).kv("reserve-left", uint64_t(intake.frames.reserve_len()));
}
// book:end kernel-main
