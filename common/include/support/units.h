// Sizes and alignment arithmetic, defined once for the loader, the kernel and the host tests.
#pragma once

#include <stdint.h>

inline constexpr uint64_t KiB = 1024;
inline constexpr uint64_t MiB = 1024 * KiB;
inline constexpr uint64_t GiB = 1024 * MiB;

// The base page: what "a page" and "a frame" mean unless a size is named.
inline constexpr uint64_t kPageSize = 4 * KiB;

constexpr bool is_power_of_two(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

// `alignment` must be a power of two in all of these.
constexpr bool is_aligned(uint64_t value, uint64_t alignment) { return (value & (alignment - 1)) == 0; }
constexpr uint64_t align_down(uint64_t value, uint64_t alignment) { return value & ~(alignment - 1); }

// Rounds up, reporting overflow instead of wrapping to zero: a range that ends
// near 2^64 must be rejected, not silently turned into an empty one.
constexpr bool align_up(uint64_t value, uint64_t alignment, uint64_t* result) {
    uint64_t bumped = 0;
    if (__builtin_add_overflow(value, alignment - 1, &bumped)) return false;
    *result = align_down(bumped, alignment);
    return true;
}

// value / divisor, rounded up: the one ceiling division (it cannot overflow,
// unlike the usual (value + divisor - 1) / divisor).
constexpr uint64_t div_ceil(uint64_t value, uint64_t divisor) { return value / divisor + (value % divisor != 0); }

// Number of base pages needed to hold `bytes`.
constexpr uint64_t pages_for(uint64_t bytes) { return div_ceil(bytes, kPageSize); }

static_assert(is_power_of_two(kPageSize) && is_power_of_two(2 * MiB) && is_power_of_two(GiB));
static_assert(div_ceil(0, 64) == 0 && div_ceil(64, 64) == 1 && div_ceil(65, 64) == 2);
static_assert(div_ceil(~uint64_t(0), 2) == uint64_t(1) << 63);
static_assert(pages_for(1) == 1 && pages_for(4 * KiB) == 1 && pages_for(4 * KiB + 1) == 2);
