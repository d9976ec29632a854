#include "mm/kernel/local_apic.h"

#include "arch/x86/cpu.h"

namespace mm {
namespace {

constexpr uint32_t kId = 0x20, kTpr = 0x80, kEoi = 0xB0, kSvr = 0xF0, kIcrLow = 0x300, kIcrHigh = 0x310;
constexpr uint32_t kSvrEnable = 1u << 8;
constexpr uint32_t kVersion = 0x30;  // bits 23:16: the highest LVT entry this APIC has
constexpr uint32_t kLvtTimer = 0x320, kLvtThermal = 0x330, kLvtPerformance = 0x340, kLvtLint0 = 0x350,
                   kLvtError = 0x370;
constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kX2ApicMsrBase = 0x800;

}  // namespace

uint32_t LocalApic::read(uint32_t offset) const {
    if (x2apic_) return uint32_t(x86::rdmsr(kX2ApicMsrBase + offset / 16));
    return *reinterpret_cast<volatile const uint32_t*>(mmio_.value() + offset);
}

void LocalApic::write(uint32_t offset, uint32_t value) const {
    if (x2apic_) x86::wrmsr(kX2ApicMsrBase + offset / 16, value);
    else *reinterpret_cast<volatile uint32_t*>(mmio_.value() + offset) = value;
}

uint32_t LocalApic::id() const { return x2apic_ ? read(kId) : read(kId) >> 24; }

void LocalApic::enable() const {
    // The local interrupt sources firmware may have left armed (timer, LINT0,
    // error, and the performance-counter and thermal entries when the APIC
    // has them) masked first: this kernel takes IPIs only, and an interrupt
    // with no gate would end the boot as a #NP once IF is set. LINT1 (the
    // NMI, SDM Vol. 3A, 10.5.1) is left as firmware set it. An AP's are
    // masked already (INIT resets them).
    const uint32_t max_lvt = (read(kVersion) >> 16) & 0xFF;
    write(kLvtTimer, kLvtMasked);
    write(kLvtLint0, kLvtMasked);
    write(kLvtError, kLvtMasked);
    if (max_lvt >= 4) write(kLvtPerformance, kLvtMasked);
    if (max_lvt >= 5) write(kLvtThermal, kLvtMasked);
    write(kTpr, 0);
    write(kSvr, kSvrEnable | kSpuriousVector);
}

void LocalApic::eoi() const { write(kEoi, 0); }

// book:begin lapic-send
Violation LocalApic::send(const apic::Ipi& ipi) const {
    if (x2apic_) {
        // WRMSR to the x2APIC's ICR is not serializing (SDM Vol. 3A, 10.12.3):
        // without a fence the IPI may overtake the stores it announces (the
        // request, the mailbox), and the target would read them stale.
        asm volatile("mfence; lfence" ::: "memory");
        x86::wrmsr(apic::kX2ApicIcrMsr, apic::x2apic_icr(ipi));  // one write: destination and command
        return accept();
    }
    uint32_t high = 0;
    if (Violation v = apic::xapic_icr_high(ipi, &high); !v.ok()) return v;
    write(kIcrHigh, high);
    write(kIcrLow, apic::icr_low(ipi));  // this write sends
    while (read(kIcrLow) & apic::kIcrDeliveryPending) asm volatile("pause");
    return accept();
}
// book:end lapic-send

}  // namespace mm
