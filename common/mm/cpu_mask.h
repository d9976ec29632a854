// CpuMask: a set of CPUs by index (0 = the BSP), one bit each (chapter 15).
//
// Which CPUs have an address space loaded, which CPUs a shootdown targets,
// which acknowledged: the same 64-bit set. Counting is a loop: the kernel is
// freestanding and has no libgcc for __builtin_popcount's fallback.
#pragma once

#include <stdint.h>

#include "support/assert.h"

namespace mm {

class CpuMask {
public:
    static constexpr unsigned kMaxCpus = 64;

    constexpr CpuMask() = default;
    constexpr explicit CpuMask(uint64_t bits) : bits_(bits) {}
    static constexpr CpuMask only(unsigned cpu) { return CpuMask(bit(cpu)); }
    // CPUs 0 … count-1.
    static constexpr CpuMask first(unsigned count) {
        return CpuMask(count >= kMaxCpus ? ~uint64_t(0) : (uint64_t(1) << count) - 1);
    }

    constexpr bool has(unsigned cpu) const { return cpu < kMaxCpus && (bits_ & bit(cpu)) != 0; }
    constexpr CpuMask with(unsigned cpu) const { return CpuMask(bits_ | bit(cpu)); }
    constexpr CpuMask without(unsigned cpu) const { return CpuMask(bits_ & ~bit(cpu)); }
    constexpr bool empty() const { return bits_ == 0; }
    constexpr uint64_t bits() const { return bits_; }
    constexpr unsigned count() const {
        unsigned n = 0;
        for (uint64_t b = bits_; b != 0; b &= b - 1) ++n;  // clears the lowest set bit each time
        return n;
    }
    constexpr bool operator==(const CpuMask&) const = default;

private:
    static constexpr uint64_t bit(unsigned cpu) { return KASSERT(cpu < kMaxCpus), uint64_t(1) << cpu; }
    uint64_t bits_ = 0;
};

// Which CPUs have an address space loaded. A CPU sets its bit before it
// loads the space's CR3 and clears it after it loads another, so a bit that
// is clear means the CPU cannot be holding this space's translations
// (atomic: CPUs change their own bits while an initiator reads the set).
class LoadedCpus {
public:
    void add(unsigned cpu) { __atomic_fetch_or(&bits_, CpuMask::only(cpu).bits(), __ATOMIC_SEQ_CST); }
    void remove(unsigned cpu) { __atomic_fetch_and(&bits_, ~CpuMask::only(cpu).bits(), __ATOMIC_SEQ_CST); }
    CpuMask loaded() const { return CpuMask(__atomic_load_n(&bits_, __ATOMIC_SEQ_CST)); }

private:
    uint64_t bits_ = 0;
};

static_assert(CpuMask::first(4).count() == 4 && CpuMask::first(4).without(0).bits() == 0b1110);
static_assert(CpuMask::first(64).count() == 64 && CpuMask().empty());

}  // namespace mm
