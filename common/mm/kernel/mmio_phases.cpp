#include "mm/kernel/mmio_phases.h"

#include "mm/acpi_table_window.h"
#include "mm/acpi_tables.h"
#include "mm/address_space_layout.h"
#include "arch/x86/cpu.h"
#include "kernel/kernel.h"
#include "mm/kernel/address_space.h"
#include "mm/memory_map_log.h"
#include "mm/memory_type.h"
#include "mm/page_table_lookup.h"
#include "mm/physical_memory.h"
#include "kernel/panic.h"
#include "kernel/screen_console.h"
#include "support/log.h"

namespace mm {
namespace {

// The constructor runs on the loader's tables, which identity-map all RAM:
// tables in ACPI reclaim, NVS or runtime memory are read at their physical
// address.
const uint8_t* identity_bytes(PhysAddr pa, uint64_t) { return reinterpret_cast<const uint8_t*>(pa.value()); }

// A table in reserved memory is mapped in the ACPI tables window of the
// kernel's own tables, which are not in CR3 yet: the bytes of the frame that
// mapping names are read where the loader's tables put that frame, at its
// physical address, once a walk of those live tables has shown they do (the
// loader's identity map ends above RAM, but a reserved range can lie higher).
const uint8_t* loader_identity_bytes(PhysAddr pa, uint64_t length) {
    IdentityMappedMemory loader_tables;
    const PhysAddr live_pml4 = PhysAddr(x86::read_cr3()).page_base();
    for (uint64_t page = pa.page_base().value(); page < pa.value() + length; page += kPageSize) {
        const Translation t = translate(live_pml4, loader_tables, VirtAddr(page), running_paging_depth());
        if (!t.present || t.pa != PhysAddr(page)) return nullptr;
    }
    return reinterpret_cast<const uint8_t*>(pa.value());
}

// `test.corrupt-acpi=<signature>` (XSDT, APIC or HPET) hands the parser a
// copy of that table with one byte of its OEM ID changed, so its checksum no
// longer holds: the boot must stop, naming the table (tests/test_06_mmio.py).
// `test.corrupt-acpi=all` damages each of the three in turn.
class CorruptedAcpiMemory final : public acpi::AcpiMemory {
public:
    CorruptedAcpiMemory(acpi::AcpiMemory& inner, Str signature) : inner_(inner), signature_(signature) {}

    const uint8_t* bytes_at(PhysAddr pa, uint64_t length) override {
        const uint8_t* bytes = inner_.bytes_at(pa, length);
        if (bytes == nullptr || signature_.size() != 4 || length < 11 || length > sizeof(copy_)) return bytes;
        for (size_t i = 0; i < 4; ++i)
            if (char(bytes[i]) != signature_[i]) return bytes;
        for (uint64_t i = 0; i < length; ++i) copy_[i] = bytes[i];
        copy_[10] ^= 0x20;  // in the OEM ID of a table, inside the first 20 bytes of the RSDP
        return copy_;
    }
    const char* refusal() const override { return inner_.refusal(); }

private:
    acpi::AcpiMemory& inner_;
    Str signature_;
    static inline uint8_t copy_[acpi::kMaxTableLength];
};

// The parser's run over the tables with the one named `signature` damaged,
// announced first, so a log with several such runs splits at each.
Violation find_devices_with_damaged_table(PhysAddr rsdp, acpi::AcpiMemory& ram, Str signature,
                                          acpi::AcpiDevices* out) {
    klog::warn("acpi").msg("reading the tables with one damaged on request").kv("table", signature);
    CorruptedAcpiMemory corrupted(ram, signature);
    return acpi::find_acpi_devices(rsdp, corrupted, out);
}

// Every table test.corrupt-acpi=all damages, in this order.
constexpr Str kDamagedTables[] = {"XSDT", "APIC", "HPET"};

// test.corrupt-acpi=all: each table damaged in turn, each time on a fresh copy
// and through the same find_acpi_devices() as the real tables, so that one
// boot shows every rejection by name. The boot then stops, as one damaged
// table stops it; a damage the parser let through is an error.
[[noreturn]] void reject_every_damaged_table(PhysAddr rsdp, acpi::AcpiMemory& ram) {
    uint64_t accepted = 0;
    for (Str signature : kDamagedTables) {
        acpi::AcpiDevices devices;
        if (Violation v = find_devices_with_damaged_table(rsdp, ram, signature, &devices); !v.ok()) {
            log_rejection("acpi", "tables", v);
        } else {
            klog::error("acpi").msg("damaged table accepted").kv("table", signature);
            ++accepted;
        }
    }
    klog::info("acpi").msg("every damaged table tried")
        .kv("tables", uint64_t(sizeof(kDamagedTables) / sizeof(kDamagedTables[0]))).kv("accepted", accepted);
    kernel::fail();
}

}  // namespace

// book:begin program-pat-phase
// Before any mapping selects PA4: from here on PAT=1 with PCD=PWT=0 means WC.
void program_pat(KernelAddressSpace&) {
    if (!cpu_has_pat()) {
        klog::error("mmio").msg("no PAT: CPUID.01H:EDX.PAT is clear");
        kernel::fail();
    }
    const uint64_t before = x86::rdmsr(x86::kMsrPat);
    program_pat();
    const uint64_t after = x86::rdmsr(x86::kMsrPat);
    klog::info("mmio").msg("pat").kv("was", klog::hex(before)).kv("now", klog::hex(after)).kv("pa4", "WC");
    if (after != kPatValue) {
        klog::error("mmio").msg("pat not taken").kv("expected", klog::hex(kPatValue));
        kernel::fail();
    }
}
// book:end program-pat-phase

// book:begin map-mmio-devices-phase
MmioDevices map_mmio_devices(KernelAddressSpace& space) {
    const HandoffView& handoff = space.handoff();
    const MemoryRangeList& ranges = space.memory().ranges;
    acpi::AcpiDevices acpi;
    acpi::AcpiTableWindow window(space.builder(), space.tables(), space.cpu());  // tables in reserved memory
    if (handoff.rsdp.is_null()) {
        klog::warn("acpi").msg("no rsdp: only the lapic is mapped");
    } else {
        acpi::AcpiTableReader ram(ranges, window, identity_bytes, loader_identity_bytes);
        const PhysAddr rsdp = handoff.rsdp;
        const Str damaged = kernel::command_line().value("test.corrupt-acpi");  // a test's request, usually none
        if (damaged == Str("all")) reject_every_damaged_table(rsdp, ram);
        if (Violation v = damaged.empty() ? acpi::find_acpi_devices(rsdp, ram, &acpi)
                                          : find_devices_with_damaged_table(rsdp, ram, damaged, &acpi);
            !v.ok()) {
            log_rejection("acpi", "tables", v);
            kernel::fail();
        }
        klog::info("acpi").msg("tables").kv("rsdp", klog::hex(rsdp)).kv("revision", uint32_t(acpi.rsdp_revision))
            .kv("root", acpi.uses_xsdt ? "xsdt" : "rsdt").kv("root-pa", klog::hex(acpi.root_table))
            .kv("entries", acpi.root_entries).kv("null", acpi.null_entries)
            .kv("unreadable", acpi.unreadable_entries).kv("madt", acpi.has_madt).kv("ioapics", acpi.ioapic_count)
            .kv("hpet", acpi.has_hpet).kv("reserved-frames", uint64_t(window.frames().count));
        if (acpi.unreadable_entries != 0)
            klog::warn("acpi").msg("table entries skipped").kv("count", acpi.unreadable_entries)
                .kv("first-index", acpi.first_unreadable_index).kv("first-pa", klog::hex(acpi.first_unreadable_address))
                .kv("rule", acpi.first_unreadable_rule);
    }
    // The decision is mmio_device_addresses()'s, on what the MSR and the tables say.
    MmioDeviceAddresses addresses = mmio_device_addresses(
        x86::rdmsr(x86::kMsrApicBase), acpi, ranges, handoff.framebuffer.base, handoff.framebuffer.size);
    refuse_devices_on_acpi_tables(&addresses, window.frames());  // one memory type per frame
    MmioDevices devices;
    if (!map_mmio_devices(space.builder(), addresses, space.cpu(), &devices).ok()) kernel::fail();
    devices.addresses = addresses;  // kept: chapter 09 verifies against this decision, not a second reading
    devices.acpi_tables = window.frames();
    return devices;
}
// book:end map-mmio-devices-phase

void map_framebuffer(KernelAddressSpace& space) {
    const HandoffFramebuffer& fb = space.handoff().framebuffer;
    if (!map_framebuffer(space.builder(), fb.base, fb.size, space.cpu()).ok()) kernel::fail();
    // The screen console draws through this mapping once these tables are in CR3 (kernel/screen_console.h).
    const uint64_t offset = fb.base.offset_in_page();
    kernel::screen_follows_mapping(space.root().value(), layout::kFramebufferBase.value() + offset,
                                   layout::kFramebufferWindowSize - offset);
}

}  // namespace mm
