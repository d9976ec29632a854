// HpetClock: waiting a given time, for INIT-SIPI-SIPI (chapter 15).
//
// The SDM's start-up sequence wants 10 ms after INIT and 200 µs after each
// SIPI (SDM Vol. 3A, 8.4.4.1 "Typical BSP Initialization Sequence"), measured
// by a clock, not by a loop whose speed depends on the CPU or on QEMU. The
// HPET is the clock the kernel already maps (chapter 06's MMIO phase,
// uncached): a main counter at 0xF0 that counts up at a fixed period, given
// in femtoseconds in bits 32-63 of the capabilities register at 0x00, and
// runs while bit 0 of the configuration register at 0x10 is set (IA-PC
// HPET specification 1.0a, 2.3.4-2.3.6). Firmware may leave it stopped;
// start() starts it. A 32-bit counter wraps; differences are taken modulo
// its width, and no wait here is near a wrap (~300 s at 14.3 MHz).
#pragma once

#include <stdint.h>

#include "mm/virt_addr.h"

namespace mm {

class HpetClock {
public:
    // False, with the rule in *refusal, when there is no HPET or its period
    // is outside the specification's bounds (0 < period <= 100 ns).
    bool start(VirtAddr hpet, const char** refusal);

    uint64_t period_fs() const { return period_fs_; }
    // The counter now, and the microseconds since an earlier reading.
    uint64_t ticks() const;
    uint64_t microseconds_since(uint64_t start_ticks) const;
    void wait_us(uint64_t microseconds) const;

private:

    VirtAddr hpet_;
    uint64_t period_fs_ = 0;
    uint64_t counter_mask_ = 0;
};

}  // namespace mm
