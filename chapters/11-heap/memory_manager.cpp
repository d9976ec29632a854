#include "memory_manager.h"

#include "acpi_tables.h"
#include "address_space_layout.h"
#include "address_space_report.h"
#include "arch/x86/cpu.h"
#include "handoff_remap.h"
#include "kernel/kernel_heap.h"
#include "kernel_stacks.h"
#include "kernel.h"
#include "linked_image.h"
#include "lower_half.h"
#include "mapping_log.h"
#include "page_table_lookup.h"
#include "page_table_walker.h"
#include "panic.h"
#include "ram_runs.h"
#include "support/log.h"

// ---- chapter 09: verify (chapter 11: the heap's regions) ------------------------------------------------------

namespace {

const uint8_t* window_bytes(mm::PhysAddr pa) { return mm::phys_to_pointer<const uint8_t>(pa); }

// Where the devices are, found again from IA32_APIC_BASE and the ACPI tables
// (read through the window now): an account of the MMIO window that does not
// come from the tables being checked.
mm::MmioDeviceAddresses device_addresses(const boot::BootHandoff& handoff, const mm::MemoryRangeList& ranges) {
    mm::acpi::AcpiDevices acpi;
    if (handoff.rsdp != 0) {
        mm::acpi::RamAcpiMemory ram(ranges, window_bytes);
        if (!mm::acpi::find_acpi_devices(mm::PhysAddr(handoff.rsdp), ram, &acpi).ok()) acpi = {};  // the phase refused it already
    }
    return mm::mmio_device_addresses(x86::rdmsr(x86::kMsrApicBase), acpi);
}

}  // namespace

// book:begin expected-regions
size_t MemoryManager::expected_regions(mm::RegionExpectation (&out)[kMaxRegions]) {
    using namespace mm;
    size_t n = 0;
    auto add = [&](const RegionExpectation& region) {
        KASSERT(n < kMaxRegions);
        out[n++] = region;
    };
    // The kernel image: each section with its own rights, 4 KiB pages; the guards absent.
    const KernelImageLayout image = kernel::linked_image_layout();
    for (const KernelImageSection& s : kernel_image_sections(image, kernel::kernel_placement(handoff())).sections)
        add(expect_mapped(s.name, s.span.va_start, s.span.pa_start, s.span.length, fit_to_cpu(s.policy, cpu())));
    const KernelImageGuards guards = kernel_image_guards(image);
    add(expect_absent("guard-below-image", guards.below_image, kPageSize));
    add(expect_absent("guard-boot-stack", guards.boot_stack, kPageSize));
    add(expect_absent("guard-above-image", guards.above_image, kPageSize));
    // The phys window: every RAM run at base + pa, RW+NX, the largest pages that fit.
    const MappingPolicy window = fit_to_cpu(phys_window_policy(cpu().pages_1gib), cpu());
    for_each_ram_run(memory().ranges, [&](const RamRun& run) {
        add(expect_mapped("phys-window", phys_to_virt(run.start), run.start, run.end - run.start, window));
        return true;
    });
    // Devices UC, one 4 KiB slot each; the framebuffer WC.
    const MmioDeviceAddresses devices = device_addresses(handoff(), memory().ranges);
    const MappingPolicy mmio = fit_to_cpu(kMmioPolicy, cpu());
    add(expect_mapped("lapic", devices_.lapic.page_base(), devices.lapic, kPageSize, mmio));
    if (devices.has_ioapic) add(expect_mapped("ioapic", devices_.ioapic.page_base(), devices.ioapic.page_base(), kPageSize, mmio));
    if (devices.has_hpet) add(expect_mapped("hpet", devices_.hpet.page_base(), devices.hpet.page_base(), kPageSize, mmio));
    const PhysAddr fb(handoff().framebuffer_base);
    uint64_t fb_size = 0;
    if (!fb.is_null() && align_up(fb.offset_in_page() + handoff().framebuffer_size, kPageSize, &fb_size))
        add(expect_mapped("framebuffer", layout::kFramebufferBase, fb.page_base(), fb_size,
                          fit_to_cpu(kFramebufferPolicy, cpu())));
    // The kernel stacks (chapter 10): each RW+NX, its guard below it absent.
    constexpr const char* kStackGuards[kKernelStackCount] = {"guard-df-ist", "guard-pf-ist", "guard-nmi-ist",
                                                             "guard-mc-ist"};
    for (size_t i = 0; i < kKernelStackCount; ++i) {
        const KernelStack s = kernel_stack(i);
        add(expect_absent(kStackGuards[i], s.guard, kPageSize));
        add(expect_mapped_anywhere(s.name, s.bottom, kKernelStackSize, fit_to_cpu(kKernelDataPolicy, cpu())));
    }
    // The heap: its guard absent, what it has grown to mapped RW+NX (to any
    // frames: they come one by one from the bitmap), the rest not yet mapped.
    const uint64_t heap_end = kernel_heap().mapped_end();
    add(expect_absent("heap-guard", kHeapGuard, kPageSize));
    add(expect_mapped_anywhere("heap", kHeapStart, heap_end - kHeapStart.value(), fit_to_cpu(kHeapPolicy, cpu())));
    add(expect_absent("heap-unmapped", VirtAddr(heap_end), layout::kHeapBase + layout::kHeapWindowSize - VirtAddr(heap_end)));
    // Nothing else: the lower half is gone (chapter 08) and the temporary
    // window is idle between uses.
    add(expect_absent("lower-half", VirtAddr(0), uint64_t(1) << 47));
    add(expect_absent("temporary-window", window_.slot(), kPageSize));
    return n;
}
// book:end expected-regions

namespace column {
constexpr size_t kVa = 45, kSize = 69, kFlags = 85, kTail = 110;
}

bool MemoryManager::verify() {
    mm::RegionExpectation regions[kMaxRegions];
    const size_t count = expected_regions(regions);
    mm::PageTableWalker walker(pml4(), tables());
    mm::LoggingFindingSink findings;  // logs each finding as it is found
    for (size_t i = 0; i < count; ++i) {
        const mm::RegionExpectation& r = regions[i];
        const mm::RegionResult result = mm::check_region(walker, r, findings);
        const uint64_t flags = mm::normalized_flags(mm::leaf_entry_flags(r.policy, mm::PageSize::k4KiB), mm::PageSize::k4KiB);
        klog::info("verify").msg("region").kv("name", r.name).pad(column::kVa).kv("va", klog::hex(r.va.value()))
            .pad(column::kSize).kv("size", klog::size(r.size))
            .pad(column::kFlags).kv("flags", r.mapped ? mm::flags_text(flags).text : "not-present")
            .pad(column::kTail).kv("pages-4k", result.pages_4k).kv("pages-2m", result.pages_2m)
            .kv("pages-1g", result.pages_1g).kv("ok", result.ok);
    }
    const mm::AuditCounts audit = mm::audit_address_space(walker, regions, count, cpu().no_execute, findings);
    klog::info("verify").msg("audit").kv("leaves", audit.leaves).kv("tables", audit.tables).kv("wx", audit.wx)
        .kv("wx-rule", cpu().no_execute ? "on" : "off-no-nx").kv("user", audit.user)
        .kv("nonzero-not-present", audit.nonzero_not_present).kv("malformed", audit.malformed)
        .kv("shared-tables", audit.shared_tables).kv("unexpected", audit.unexpected).kv("ok", audit.ok());
    if (findings.count() != 0) {
        klog::error("verify").msg("address space rejected").kv("findings", findings.count());
        return false;
    }
    klog::info("verify").msg("address space verified").kv("regions", uint64_t(count)).kv("findings", uint64_t(0));
    return true;
}

void MemoryManager::report() {
    // Owners: the image's sections first, then the layout's regions.
    mm::Owner owners[mm::kKernelImageSectionCount + sizeof(mm::layout::kRegions) / sizeof(mm::layout::kRegions[0])];
    size_t n = 0;
    for (const mm::KernelImageSection& s :
         mm::kernel_image_sections(kernel::linked_image_layout(), kernel::kernel_placement(handoff())).sections)
        owners[n++] = {s.name, s.span.va_start, s.span.length};
    for (const mm::layout::Region& r : mm::layout::kRegions) owners[n++] = {r.name, r.base, r.size};
    mm::AddressSpaceReport report(owners, n);
    mm::PageTableWalker(pml4(), tables()).walk(report);
    mm::log_report(report);
}
