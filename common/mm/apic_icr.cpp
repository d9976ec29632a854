#include "mm/apic_icr.h"

#include "support/units.h"

namespace mm::apic {

// book:begin icr
uint32_t icr_low(const Ipi& ipi) {
    return uint32_t(ipi.vector) | uint32_t(ipi.mode) << 8 | kIcrLevelAssert;  // physical, edge, no shorthand
}

Violation xapic_icr_high(const Ipi& ipi, uint32_t* out) {
    if (ipi.destination > 0xFF) return reject("icr.destination", ipi.destination, "must be at most 0xff in xAPIC mode");
    *out = ipi.destination << 24;
    return accept();
}

uint64_t x2apic_icr(const Ipi& ipi) { return uint64_t(ipi.destination) << 32 | icr_low(ipi); }
// book:end icr

Violation startup_ipi(uint32_t apic_id, PhysAddr trampoline, Ipi* out) {
    const uint64_t pa = trampoline.value();
    if (pa % kPageSize != 0) return reject("sipi.trampoline", pa, "must be 4KiB aligned");
    if (pa == 0 || pa >= 1 * MiB) return reject("sipi.trampoline", pa, "must be a page from 0x1000 below 1MiB");
    *out = {DeliveryMode::kStartup, uint8_t(pa / kPageSize), apic_id};
    return accept();
}

}  // namespace mm::apic
