#include "memory_manager.h"

#include "acpi_tables.h"
#include "arch/x86/cpu.h"
#include "identity_map.h"
#include "kernel.h"
#include "kernel_image_map.h"
#include "linked_image.h"
#include "mapping_log.h"
#include "memory_map_log.h"
#include "memory_type.h"
#include "page_table_lookup.h"
#include "panic.h"
#include "support/log.h"

namespace {

[[noreturn]] void stop() { kernel::exit_kernel(boot::ExitCode::kFailure); }

// The PML4 must exist before the builder that fills it.
mm::PhysAddr new_pml4(mm::PhysicalMemoryAccess& tables, mm::BootFrameAllocator& frames) {
    const mm::FrameResult pml4 = mm::PageTableBuilder::create_pml4(tables, frames);
    if (!pml4.ok()) {
        klog::error("paging").msg("no frame for the pml4");
        stop();
    }
    return pml4.frame();
}

// The constructor runs on the identity map (the loader's tables): ACPI tables
// are read at their physical address.
const uint8_t* identity_bytes(mm::PhysAddr pa) { return reinterpret_cast<const uint8_t*>(pa.value()); }

// `test.corrupt-acpi=<signature>` (e.g. HPET, APIC, XSDT, FACP) hands the
// parser a copy of that table with one byte of its OEM ID changed, so its
// checksum no longer holds: the boot must stop, naming the table
// (tests/test_06_mmio.py).
class CorruptedAcpiMemory final : public mm::acpi::AcpiMemory {
public:
    CorruptedAcpiMemory(mm::acpi::AcpiMemory& inner, Str signature) : inner_(inner), signature_(signature) {}

    const uint8_t* bytes_at(mm::PhysAddr pa, uint64_t length) override {
        const uint8_t* bytes = inner_.bytes_at(pa, length);
        if (bytes == nullptr || signature_.size() != 4 || length < 11 || length > sizeof(copy_)) return bytes;
        for (size_t i = 0; i < 4; ++i)
            if (char(bytes[i]) != signature_[i]) return bytes;
        for (uint64_t i = 0; i < length; ++i) copy_[i] = bytes[i];
        copy_[10] ^= 0x20;  // in the OEM ID of a table, inside the first 20 bytes of the RSDP
        return copy_;
    }

private:
    mm::acpi::AcpiMemory& inner_;
    Str signature_;
    static inline uint8_t copy_[mm::acpi::kMaxTableLength];
};

}  // namespace

// book:begin memory-manager
MemoryManager::MemoryManager(const boot::BootHandoff& handoff, const mm::BootMemory& memory,
                             mm::BootFrameAllocator& frames)
    : handoff_(handoff),
      memory_(memory),
      frames_(frames),
      cpu_(mm::read_cpu_paging_features()),
      builder_(new_pml4(tables_, frames), tables_, frames) {
    identity_map_low_memory();
    map_kernel_image();
    map_phys_offset_regions();
    program_pat();
    map_mmio_devices();
    map_framebuffer();
}
// book:end memory-manager

void MemoryManager::identity_map_low_memory() {
    if (!mm::identity_map_low_memory(builder_, memory_.ranges, cpu_).ok()) stop();
}

void MemoryManager::map_kernel_image() {
    const mm::KernelImageLayout layout = kernel::linked_image_layout();
    const mm::KernelPlacement placement = kernel::kernel_placement(handoff_);
    if (Violation v = mm::check_kernel_placement(layout, placement); !v.ok()) {
        klog::error("paging").msg("kernel placement rejected").kv("field", v.field).kv("value", klog::hex(v.value))
            .kv("rule", v.rule);
        stop();
    }
    if (!mm::map_kernel_image(builder_, layout, placement, cpu_).ok()) stop();
}

void MemoryManager::map_phys_offset_regions() {
    if (!mm::map_phys_offset_regions(builder_, memory_.ranges, cpu_).ok()) stop();
}

// book:begin program-pat-phase
// Before any mapping selects PA4: from here on PAT=1 with PCD=PWT=0 means WC.
void MemoryManager::program_pat() {
    if (!mm::cpu_has_pat()) {
        klog::error("mmio").msg("no PAT: CPUID.01H:EDX.PAT is clear");
        stop();
    }
    const uint64_t before = x86::rdmsr(x86::kMsrPat);
    mm::program_pat();
    const uint64_t after = x86::rdmsr(x86::kMsrPat);
    klog::info("mmio").msg("pat").kv("was", klog::hex(before)).kv("now", klog::hex(after)).kv("pa4", "WC");
    if (after != mm::kPatValue) {
        klog::error("mmio").msg("pat not taken").kv("expected", klog::hex(mm::kPatValue));
        stop();
    }
}
// book:end program-pat-phase

// book:begin map-mmio-devices-phase
void MemoryManager::map_mmio_devices() {
    mm::acpi::AcpiDevices acpi;
    if (handoff_.rsdp == 0) {
        klog::warn("acpi").msg("no rsdp: only the lapic is mapped");
    } else {
        mm::acpi::RamAcpiMemory ram(memory_.ranges, identity_bytes);
        CorruptedAcpiMemory corrupted(ram, kernel::command_line().value("test.corrupt-acpi"));
        if (Violation v = mm::acpi::find_acpi_devices(mm::PhysAddr(handoff_.rsdp), corrupted, &acpi); !v.ok()) {
            mm::log_rejection("acpi", "tables", v);
            stop();
        }
        klog::info("acpi").msg("tables").kv("rsdp", klog::hex(handoff_.rsdp)).kv("revision", uint32_t(acpi.rsdp_revision))
            .kv("root", acpi.uses_xsdt ? "xsdt" : "rsdt").kv("root-pa", klog::hex(acpi.root_table.value()))
            .kv("entries", acpi.root_entries).kv("madt", acpi.has_madt).kv("ioapics", acpi.ioapic_count)
            .kv("hpet", acpi.has_hpet);
    }
    const uint64_t apic_base = x86::rdmsr(x86::kMsrApicBase);
    klog::info("mmio").msg("apic base").kv("msr", klog::hex(apic_base))
        .kv("enabled", (apic_base & x86::kApicBaseEnable) != 0).kv("madt-lapic", klog::hex(acpi.madt_local_apic.value()));
    if (!mm::map_mmio_devices(builder_, mm::mmio_device_addresses(apic_base, acpi), cpu_, &devices_).ok()) stop();
}
// book:end map-mmio-devices-phase

void MemoryManager::map_framebuffer() {
    if (!mm::map_framebuffer(builder_, mm::PhysAddr(handoff_.framebuffer_base), handoff_.framebuffer_size, cpu_).ok())
        stop();
}

void MemoryManager::check_before_switch() const {
    struct Probe {
        const char* what;
        mm::VirtAddr va;
    };
    uint64_t rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    const Probe probes[] = {
        {"code", mm::VirtAddr(reinterpret_cast<uint64_t>(&stop))},
        {"stack", mm::VirtAddr(rsp)},
        {"handoff", mm::VirtAddr(reinterpret_cast<uint64_t>(&handoff_))},
        {"pml4-through-window", mm::phys_to_virt(pml4())},
    };
    for (const Probe& p : probes) {
        if (mm::translate(pml4(), tables_, p.va).present) continue;
        klog::error("paging").msg("not mapped in the new tables").kv("what", p.what).kv("va", klog::hex(p.va.value()));
        stop();
    }
}

void MemoryManager::activate() {
    check_before_switch();
    x86::write_cr3(pml4().value());
    tables_.use_window();
    klog::info("paging").msg("switched").kv("cr3", klog::hex(x86::read_cr3())).kv("tables-through", "phys-window");
}
