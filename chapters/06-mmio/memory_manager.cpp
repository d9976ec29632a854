#include "memory_manager.h"

#include "acpi_tables.h"
#include "arch/x86/cpu.h"
#include "kernel.h"
#include "mapping_log.h"
#include "memory_map_log.h"
#include "memory_type.h"
#include "panic.h"
#include "support/log.h"

namespace {

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


// book:begin program-pat-phase
// Before any mapping selects PA4: from here on PAT=1 with PCD=PWT=0 means WC.
void MemoryManager::program_pat() {
    if (!mm::cpu_has_pat()) {
        klog::error("mmio").msg("no PAT: CPUID.01H:EDX.PAT is clear");
        KernelAddressSpace::stop();
    }
    const uint64_t before = x86::rdmsr(x86::kMsrPat);
    mm::program_pat();
    const uint64_t after = x86::rdmsr(x86::kMsrPat);
    klog::info("mmio").msg("pat").kv("was", klog::hex(before)).kv("now", klog::hex(after)).kv("pa4", "WC");
    if (after != mm::kPatValue) {
        klog::error("mmio").msg("pat not taken").kv("expected", klog::hex(mm::kPatValue));
        KernelAddressSpace::stop();
    }
}
// book:end program-pat-phase

// book:begin map-mmio-devices-phase
void MemoryManager::map_mmio_devices() {
    mm::acpi::AcpiDevices acpi;
    if (handoff().rsdp == 0) {
        klog::warn("acpi").msg("no rsdp: only the lapic is mapped");
    } else {
        mm::acpi::RamAcpiMemory ram(memory().ranges, identity_bytes);
        CorruptedAcpiMemory corrupted(ram, kernel::command_line().value("test.corrupt-acpi"));
        if (Violation v = mm::acpi::find_acpi_devices(mm::PhysAddr(handoff().rsdp), corrupted, &acpi); !v.ok()) {
            mm::log_rejection("acpi", "tables", v);
            KernelAddressSpace::stop();
        }
        klog::info("acpi").msg("tables").kv("rsdp", klog::hex(handoff().rsdp)).kv("revision", uint32_t(acpi.rsdp_revision))
            .kv("root", acpi.uses_xsdt ? "xsdt" : "rsdt").kv("root-pa", klog::hex(acpi.root_table.value()))
            .kv("entries", acpi.root_entries).kv("madt", acpi.has_madt).kv("ioapics", acpi.ioapic_count)
            .kv("hpet", acpi.has_hpet);
    }
    const uint64_t apic_base = x86::rdmsr(x86::kMsrApicBase);
    klog::info("mmio").msg("apic base").kv("msr", klog::hex(apic_base))
        .kv("enabled", (apic_base & x86::kApicBaseEnable) != 0).kv("madt-lapic", klog::hex(acpi.madt_local_apic.value()));
    if (!mm::map_mmio_devices(builder(), mm::mmio_device_addresses(apic_base, acpi), cpu(), &devices_).ok()) KernelAddressSpace::stop();
}
// book:end map-mmio-devices-phase

void MemoryManager::map_framebuffer() {
    if (!mm::map_framebuffer(builder(), mm::PhysAddr(handoff().framebuffer_base), handoff().framebuffer_size, cpu()).ok())
        KernelAddressSpace::stop();
}
