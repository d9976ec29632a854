// LocalApic: this CPU's local APIC, the one device every CPU has of its
// own, in either of its modes (chapter 15).
//
// In xAPIC mode its registers are a 4 KiB page at IA32_APIC_BASE (chapter
// 06 maps it uncached in the MMIO window); every CPU reaches *its own* APIC
// at the same physical address, so one mapping serves all CPUs. In x2APIC
// mode the same registers are MSRs 0x800 + offset / 16 (SDM Vol. 3A,
// 10.12.1.2) and the ICR is one 64-bit MSR (apic_icr.h). Registers used
// (SDM Vol. 3A, Table 10-1): ID 0x20, TPR 0x80, EOI 0xB0, SVR 0xF0,
// ICR 0x300/0x310.
#pragma once

#include <stdint.h>

#include "mm/apic_icr.h"
#include "mm/mmio_map.h"

namespace mm {

// Vectors chapter 15 uses (the kernel takes no other interrupt): above the
// 32 exceptions, highest priority class first (SDM Vol. 3A, 10.8.3.1).
inline constexpr uint8_t kShootdownVector = 0xF0;  // invalidate what the request says, then acknowledge
inline constexpr uint8_t kWakeVector = 0xF1;       // look at the mailbox (cpu_startup.h)
inline constexpr uint8_t kSpuriousVector = 0xFF;   // the APIC's spurious vector: no EOI

class LocalApic {
public:
    LocalApic() = default;
    explicit LocalApic(const MmioDevices& devices)
        : mmio_(devices.lapic), x2apic_(devices.lapic_mode == LapicMode::kX2Apic) {}

    bool usable() const { return x2apic_ || !mmio_.is_null(); }
    bool x2apic() const { return x2apic_; }

    // The executing CPU's APIC ID.
    uint32_t id() const;
    // Software-enables the executing CPU's APIC (SVR bit 8, spurious vector)
    // and accepts every priority (TPR 0).
    void enable() const;
    // End of interrupt: the APIC may deliver the next one.
    void eoi() const;
    // Sends `ipi` and, in xAPIC mode, waits until the APIC has delivered it
    // (ICR bit 12 clear). Refused (field, value): a destination xAPIC
    // cannot address.
    Violation send(const apic::Ipi& ipi) const;

private:
    uint32_t read(uint32_t offset) const;
    void write(uint32_t offset, uint32_t value) const;

    VirtAddr mmio_;
    bool x2apic_ = false;
};

}  // namespace mm
