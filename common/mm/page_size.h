// PageSize: the three sizes a 4-level page-table leaf can map.
//
// The enumerator's value *is* the size in bytes, so there is no table to keep
// in step with the enum and no way to mean 2 MiB and compute with 4 KiB.
#pragma once

#include <stdint.h>

#include "support/units.h"

namespace mm {

// SDM Vol. 3A, 4.5 "4-Level Paging": a PTE maps 4 KiB, a PDE with PS=1 maps
// 2 MiB, a PDPTE with PS=1 maps 1 GiB (only where CPUID reports Page1GB).
enum class PageSize : uint64_t {
    k4KiB = 4 * KiB,
    k2MiB = 2 * MiB,
    k1GiB = GiB,
};

constexpr uint64_t bytes(PageSize size) { return static_cast<uint64_t>(size); }

// The spelling klog::size() uses, so log lines and summaries read alike.
constexpr const char* name(PageSize size) {
    switch (size) {
        case PageSize::k4KiB: return "4KiB";
        case PageSize::k2MiB: return "2MiB";
        case PageSize::k1GiB: return "1GiB";
    }
    return "?";
}

// The next size down; 4 KiB is the smallest and stays 4 KiB.
constexpr PageSize next_smaller(PageSize size) {
    return size == PageSize::k1GiB ? PageSize::k2MiB : PageSize::k4KiB;
}

static_assert(is_power_of_two(bytes(PageSize::k4KiB)) && is_power_of_two(bytes(PageSize::k2MiB)) &&
              is_power_of_two(bytes(PageSize::k1GiB)));
static_assert(bytes(PageSize::k4KiB) == kPageSize);
static_assert(PageSize::k4KiB < PageSize::k2MiB && PageSize::k2MiB < PageSize::k1GiB);  // ordered by size

}  // namespace mm
