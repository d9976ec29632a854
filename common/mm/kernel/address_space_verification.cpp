#include "mm/kernel/address_space_verification.h"

#include "mm/acpi_table_window.h"
#include "mm/address_space_layout.h"
#include "mm/address_space_report.h"
#include "mm/kernel/linked_image.h"
#include "mm/kernel/ram_frame_exceptions.h"
#include "mm/mapping_log.h"
#include "mm/page_table_walker.h"
#include "mm/phys_window.h"
#include "mm/ram_runs.h"
#include "support/log.h"

namespace mm {
namespace {

}  // namespace

// book:begin mapped-regions
void expect_mapped_regions(ExpectedRegions& out, const HandoffView& handoff, const MemoryRangeList& ranges,
                           CpuPagingFeatures cpu, const MmioDevices& mapped) {
    // The kernel image: each section with its own rights, 4 KiB pages; the guards absent.
    const KernelImageLayout image = kernel::linked_image_layout();
    for (const KernelImageSection& s : kernel_image_sections(image, handoff.kernel).sections)
        out.add(expect_mapped(s.name, s.span.va_start, s.span.pa_start, s.span.length, fit_to_cpu(s.policy, cpu)));
    const KernelImageGuards guards = kernel_image_guards(image);
    out.add(expect_absent("guard-below-image", guards.below_image, kPageSize));
    out.add(expect_absent("guard-boot-stack", guards.boot_stack, kPageSize));
    out.add(expect_absent("guard-above-image", guards.above_image, kPageSize));
    // The phys window: every RAM run at base + pa, RW+NX, the largest pages that fit, cut where
    // a frame exception begins and ends: the image's text and rodata read-only, the framebuffer absent.
    const MappingPolicy window = fit_to_cpu(phys_window_policy(), cpu);
    const MappingPolicy window_read_only = read_only(window);
    const FrameExceptions exceptions = kernel::ram_frame_exceptions(handoff);
    for_each_ram_run(ranges, [&](const RamRun& run) {
        return for_each_ram_piece(run.start, run.end, exceptions, [&](const RamPiece& piece) {
            const uint64_t size = piece.end - piece.start;
            if (const MappingPolicy* policy = piece_policy(piece, window, window_read_only))
                out.add(expect_mapped("phys-window", phys_to_virt(piece.start), piece.start, size, *policy));
            else
                out.add(expect_absent("phys-window-hole", phys_to_virt(piece.start), size));
            return true;
        });
    });
    // Devices UC, one 4 KiB slot each, where map_mmio_devices decided (kept in
    // the address space: the firmware's tables are not read twice); the ACPI
    // tables it mapped from reserved memory read-only, WB; the framebuffer WC.
    const MmioDeviceAddresses& devices = mapped.addresses;
    const MappingPolicy mmio = fit_to_cpu(kMmioPolicy, cpu);
    const struct {
        const char* name;
        const MmioDevice& decided;
        VirtAddr va;
    } slots[] = {{"lapic", devices.lapic, mapped.lapic}, {"ioapic", devices.ioapic, mapped.ioapic},
                 {"hpet", devices.hpet, mapped.hpet}};
    for (const auto& d : slots)  // only the mapped ones: an absent or refused device has no slot
        if (d.decided.present) out.add(expect_mapped(d.name, d.va.page_base(), d.decided.pa.page_base(), kPageSize, mmio));
    const MappingPolicy acpi_tables = fit_to_cpu(kAcpiTablesPolicy, cpu);
    for (size_t i = 0; i < mapped.acpi_tables.count; ++i) {
        const PhysAddr frame = mapped.acpi_tables.frames[i];
        out.add(expect_mapped("acpi-table", acpi::acpi_table_va(frame), frame, kPageSize, acpi_tables));
    }
    const PhysAddr fb = handoff.framebuffer.base;
    uint64_t fb_size = 0;
    if (!fb.is_null() && align_up(fb.offset_in_page() + handoff.framebuffer.size, kPageSize, &fb_size))
        out.add(expect_mapped("framebuffer", layout::kFramebufferBase, fb.page_base(), fb_size,
                          fit_to_cpu(kFramebufferPolicy, cpu)));
}
// book:end mapped-regions

namespace column {
constexpr size_t kVa = 45, kSize = 69, kFlags = 85, kTail = 110;
}

// book:begin verify
bool verify_address_space(PhysAddr pml4, PhysicalMemoryAccess& tables, const ExpectedRegions& expected,
                          CpuPagingFeatures cpu, PagingDepth depth) {
    const RegionExpectation* regions = expected.regions;
    const size_t count = expected.count;
    PageTableWalker walker(pml4, tables, depth);
    LoggingFindingSink findings;  // logs each finding as it is found
    for (size_t i = 0; i < count; ++i) {
        const RegionExpectation& r = regions[i];
        const RegionResult result = check_region(walker, r, cpu, findings);
        const uint64_t flags = normalized_flags(leaf_entry_flags(r.policy, PageSize::k4KiB), PageSize::k4KiB);
        klog::info("verify").msg("region").kv("name", r.name).pad(column::kVa).kv("va", klog::hex(r.va))
            .pad(column::kSize).kv("size", klog::size(r.size))
            .pad(column::kFlags).kv("flags", r.mapped ? flags_text(flags).text : "not-present")
            .pad(column::kTail).kv("pages-4k", result.pages_4k).kv("pages-2m", result.pages_2m)
            .kv("pages-1g", result.pages_1g).kv("ok", result.ok);
    }
    const AuditCounts audit = audit_address_space(walker, regions, count, cpu.no_execute, findings);
    klog::info("verify").msg("audit").kv("leaves", audit.leaves).kv("tables", audit.tables).kv("wx", audit.wx)
        .kv("wx-rule", cpu.no_execute ? "on" : "off-no-nx").kv("user", audit.user)
        .kv("nonzero-not-present", audit.nonzero_not_present).kv("malformed", audit.malformed)
        .kv("shared-tables", audit.shared_tables).kv("unexpected", audit.unexpected).kv("frame-wx", audit.frame_wx)
        .kv("frame-types", audit.frame_types).kv("ok", audit.ok());
    if (findings.count() != 0) {
        klog::error("verify").msg("address space rejected").kv("findings", findings.count());
        return false;
    }
    klog::info("verify").msg("address space verified").kv("regions", uint64_t(count)).kv("findings", uint64_t(0));
    return true;
}
// book:end verify

// book:begin report
void report_address_space(PhysAddr pml4, PhysicalMemoryAccess& tables, const HandoffView& handoff, PagingDepth depth) {
    // Owners: the image's sections first, then the layout's regions.
    Owner owners[kKernelImageSectionCount + sizeof(layout::kRegions) / sizeof(layout::kRegions[0])];
    size_t n = 0;
    for (const KernelImageSection& s :
         kernel_image_sections(kernel::linked_image_layout(), handoff.kernel).sections)
        owners[n++] = {s.name, s.span.va_start, s.span.length};
    for (const layout::Region& laid_out : layout::kRegions) {
        const layout::Region r = placed(laid_out);  // the window where this boot put it
        owners[n++] = {r.name, r.base, r.size};
    }
    AddressSpaceReport report(owners, n);
    PageTableWalker(pml4, tables, depth).walk(report);
    log_report(report);
}
// book:end report

}  // namespace mm
