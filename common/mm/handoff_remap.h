// Re-addressing what the loader handed over: from the identity map, which is
// about to disappear, to the phys-offset window.
//
// Before the kernel switches a pointer it checks the buffer at its new
// address: a sane, page-aligned extent, wholly inside memory of the expected
// loader-owned kind, and showing exactly the bytes that were validated at the
// old address. Only a buffer that passes is used through the window; the
// caller logs the result either way.
#pragma once

#include <stdint.h>

#include "mm/memory_ranges.h"
#include "mm/phys_addr.h"
#include "support/violation.h"

namespace mm {

struct RemapRequest {
    const char* name;          // "handoff", "memory-map": the log's field prefix
    PhysAddr pa;               // where the buffer is
    uint64_t size;             // bytes that matter
    RangeKind expected_kind;   // the loader-owned kind it must lie in
    const uint8_t* validated;  // the bytes as validated, at the old address
    const uint8_t* remapped;   // the same bytes at the new address
};

// A buffer larger than this is not something the loader handed over.
inline constexpr uint64_t kMaxRemapBytes = 1 * MiB;

Violation check_remapped_buffer(const RemapRequest& request, const MemoryRangeList& ranges);

}  // namespace mm
