// The log lines of the mapping phases, defined once: every phase reports
// what it mapped with the same keys, and every refusal the same way.
//
//   [INFO  paging] phase identity_map_low_memory ranges=… runs=… bytes=… pages-4k=… pages-2m=… pages-1g=… tables=… flags=P|RW|NX
//   [ERROR paging] map rejected phase=map_kernel_image what=text va=0x… pa=0x… size=… at=0x… rule="…"
#pragma once

#include <stdint.h>

#include "mm/page_table_builder.h"
#include "mm/page_table_entry.h"
#include "support/log.h"

namespace mm {

// flags_summary() as a value that lives to the end of a log statement.
struct FlagsText {
    char text[kFlagsSummaryCapacity];
};
FlagsText flags_text(uint64_t flags, PageTableLevel level = PageTableLevel::kPt);

// Appends bytes= pages-4k= pages-2m= pages-1g= tables= to `line`.
klog::Line& page_counts(klog::Line& line, const MapStats& stats);

// A refused map_range(): which phase, what it was mapping, the range, the
// page the refusal is about and the rule it broke (describe(status)).
void log_map_rejection(const char* phase, const char* what, VirtAddr va, PhysAddr pa, uint64_t length,
                       const MapResult& result);

}  // namespace mm
