// VirtAddr: a virtual address as its own type, the counterpart of PhysAddr.
//
// Introduced in chapter 04: from here on the kernel handles both kinds of
// address side by side, and a mix-up between them should not compile.
#pragma once

#include <stdint.h>

#include "mm/paging_depth.h"
#include "support/log.h"
#include "support/units.h"

namespace mm {

class VirtAddr {
public:
    constexpr VirtAddr() = default;
    constexpr explicit VirtAddr(uint64_t value) : value_(value) {}

    constexpr uint64_t value() const { return value_; }
    constexpr bool is_null() const { return value_ == 0; }
    constexpr bool is_aligned(uint64_t alignment) const { return ::is_aligned(value_, alignment); }
    constexpr VirtAddr page_base() const { return VirtAddr(align_down(value_, kPageSize)); }
    constexpr uint64_t offset_in_page() const { return value_ & (kPageSize - 1); }

    // The bits above the translated ones copy the top translated bit, or the
    // access faults (SDM Vol. 1, 3.3.7.1 "Canonical Addressing"): bits 63..47
    // all zero (lower half) or all one (upper half) with 4-level paging, which
    // translates 48 bits; bits 63..56 with 5-level paging, which translates 57
    // (SDM Vol. 3A, 4.5). So every 48-bit-canonical address is 57-bit-canonical,
    // not the other way round.
    constexpr bool is_canonical(PagingDepth depth) const {
        const unsigned sign_bit = translated_bits(depth) - 1;
        const uint64_t top = value_ >> sign_bit;
        return top == 0 || top == (~uint64_t(0) >> sign_bit);
    }
    // The 4-level rule, which every chapter before 16 runs under.
    constexpr bool is_canonical() const { return is_canonical(PagingDepth::kFourLevel); }
    constexpr bool is_upper_half() const { return (value_ >> 63) != 0; }

    // Plain 64-bit arithmetic: callers that can overflow check for it first.
    constexpr VirtAddr operator+(uint64_t bytes) const { return VirtAddr(value_ + bytes); }
    constexpr uint64_t operator-(VirtAddr other) const { return value_ - other.value_; }
    constexpr bool operator==(const VirtAddr&) const = default;
    constexpr bool operator<(VirtAddr other) const { return value_ < other.value_; }
    constexpr bool operator<=(VirtAddr other) const { return value_ <= other.value_; }
    constexpr bool operator>(VirtAddr other) const { return value_ > other.value_; }
    constexpr bool operator>=(VirtAddr other) const { return value_ >= other.value_; }

private:
    uint64_t value_ = 0;
};

static_assert(sizeof(VirtAddr) == 8);
static_assert(VirtAddr(0x0000'7FFF'FFFF'FFFFull).is_canonical() && VirtAddr(0xFFFF'8000'0000'0000ull).is_canonical());
static_assert(!VirtAddr(0x0000'8000'0000'0000ull).is_canonical() && !VirtAddr(0xFFFF'7FFF'FFFF'FFFFull).is_canonical());
// Above 2^47: canonical only at 5 levels, in either half.
static_assert(VirtAddr(0x00FF'FFFF'FFFF'FFFFull).is_canonical(PagingDepth::kFiveLevel) &&
              !VirtAddr(0x00FF'FFFF'FFFF'FFFFull).is_canonical(PagingDepth::kFourLevel));
static_assert(VirtAddr(0xFF00'0000'0000'0000ull).is_canonical(PagingDepth::kFiveLevel) &&
              !VirtAddr(0xFF00'0000'0000'0000ull).is_canonical(PagingDepth::kFourLevel));
static_assert(!VirtAddr(0x0100'0000'0000'0000ull).is_canonical(PagingDepth::kFiveLevel) &&
              !VirtAddr(0xFEFF'FFFF'FFFF'FFFFull).is_canonical(PagingDepth::kFiveLevel));
static_assert(VirtAddr(0xFFFF'FFFF'8000'1234ull).page_base() == VirtAddr(0xFFFF'FFFF'8000'1000ull));

}  // namespace mm

namespace klog {

// Logged as 0x…, like every other hex field: the key (va=, start=, …) already
// says which kind of address it is (see support/log.h). The overload is the
// one way to log a VirtAddr, so no call site unwraps it.
inline constexpr Hex hex(mm::VirtAddr address) { return {address.value()}; }

}  // namespace klog
