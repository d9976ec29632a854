// PhysAddr: a physical address as its own type, so a physical address can never
// be passed where a virtual one (or a plain count) is expected.
//
// Introduced in chapter 02 because the memory map speaks physical addresses;
// chapter 04 adds its virtual counterpart, VirtAddr, and the page-table types.
#pragma once

#include <stdint.h>

#include "support/log.h"
#include "support/units.h"

namespace mm {

class PhysAddr {
public:
    // x86_64 allows at most 52 physical address bits (SDM Vol. 3A, 4.1.4, MAXPHYADDR).
    static constexpr uint64_t kMaxBits = 52;
    static constexpr uint64_t kLimit = uint64_t(1) << kMaxBits;

    constexpr PhysAddr() = default;
    constexpr explicit PhysAddr(uint64_t value) : value_(value) {}

    constexpr uint64_t value() const { return value_; }
    constexpr bool is_null() const { return value_ == 0; }
    constexpr bool is_aligned(uint64_t alignment) const { return ::is_aligned(value_, alignment); }
    constexpr PhysAddr page_base() const { return PhysAddr(align_down(value_, kPageSize)); }
    constexpr uint64_t offset_in_page() const { return value_ & (kPageSize - 1); }

    constexpr PhysAddr operator+(uint64_t bytes) const { return PhysAddr(value_ + bytes); }
    constexpr uint64_t operator-(PhysAddr other) const { return value_ - other.value_; }
    constexpr bool operator==(const PhysAddr&) const = default;
    constexpr bool operator<(PhysAddr other) const { return value_ < other.value_; }
    constexpr bool operator<=(PhysAddr other) const { return value_ <= other.value_; }
    constexpr bool operator>(PhysAddr other) const { return value_ > other.value_; }
    constexpr bool operator>=(PhysAddr other) const { return value_ >= other.value_; }

private:
    uint64_t value_ = 0;
};

static_assert(sizeof(PhysAddr) == 8);
static_assert(PhysAddr(0x1234).page_base() == PhysAddr(0x1000) && PhysAddr(0x1234).offset_in_page() == 0x234);

}  // namespace mm

namespace klog {

// Logged as 0x…, like every other hex field: the key (pa=, start=, …) already
// says which kind of address it is (see support/log.h). The overload is the
// one way to log a PhysAddr, so no call site unwraps it.
inline constexpr Hex hex(mm::PhysAddr address) { return {address.value()}; }

}  // namespace klog
