// The local APIC's Interrupt Command Register: how one CPU sends another an
// interrupt (an IPI), as a pure encoding (chapter 15).
//
// SDM Vol. 3A, 10.6.1 "Interrupt Command Register (ICR)", Figure 10-12:
//   bits 0-7    vector
//   bits 8-10   delivery mode: 000 fixed, 101 INIT, 110 start-up (SIPI)
//   bit  11     destination mode: 0 physical (an APIC ID)
//   bit  12     delivery status (read only): 1 while the IPI is still pending
//   bit  14     level: 1 assert (0 only for the obsolete INIT level de-assert)
//   bit  15     trigger mode: 0 edge
//   bits 18-19  destination shorthand: 00 none (use the destination field)
// In xAPIC mode the ICR is two 32-bit MMIO registers, the low half at
// 0x300 (writing it sends) and the high half at 0x310, whose bits 24-31 hold
// an 8-bit destination APIC ID. In x2APIC mode (SDM Vol. 3A, 10.12.9) it is one 64-bit
// MSR, 0x830, written at once: the low half as above, the 32-bit x2APIC ID
// in bits 32-63, no delivery-status bit (a write is delivered).
//
// A start-up IPI's vector is the page number of the code the target starts
// in real mode: the page at vector * 4 KiB, so below 1 MiB (SDM Vol. 3A, 10.6.1).
#pragma once

#include <stdint.h>

#include "mm/phys_addr.h"
#include "support/violation.h"

namespace mm::apic {

enum class DeliveryMode : uint8_t { kFixed = 0b000, kInit = 0b101, kStartup = 0b110 };

inline constexpr uint32_t kIcrDeliveryPending = 1u << 12;
inline constexpr uint32_t kIcrLevelAssert = 1u << 14;
inline constexpr uint32_t kX2ApicIcrMsr = 0x830;

struct Ipi {
    DeliveryMode mode;
    uint8_t vector;        // fixed: the interrupt vector; start-up: the page number; INIT: 0
    uint32_t destination;  // the target's APIC ID
};

constexpr Ipi init_ipi(uint32_t apic_id) { return {DeliveryMode::kInit, 0, apic_id}; }
constexpr Ipi fixed_ipi(uint32_t apic_id, uint8_t vector) { return {DeliveryMode::kFixed, vector, apic_id}; }

// The ICR's low 32 bits: physical destination, edge, level assert.
uint32_t icr_low(const Ipi& ipi);

// xAPIC: the value of the ICR's high register (0x310). Refuses an APIC ID
// above 0xFF ("icr.destination"): only x2APIC mode can address it.
Violation xapic_icr_high(const Ipi& ipi, uint32_t* out);

// x2APIC: the 64-bit value written to MSR 0x830.
uint64_t x2apic_icr(const Ipi& ipi);

// The start-up IPI that starts a CPU at `trampoline`: refuses a page that is
// not 4 KiB aligned, is page 0 or lies at or above 1 MiB ("sipi.trampoline").
Violation startup_ipi(uint32_t apic_id, PhysAddr trampoline, Ipi* out);

}  // namespace mm::apic
