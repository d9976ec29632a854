// RAM runs: the RAM of the range list, with touching ranges merged.
//
// A mapping of "all RAM" (the identity map of chapter 04, the phys-offset
// window of chapter 05) should not split where only the *kind* of memory
// changes, say from usable to acpi-nvs: a run across the boundary can still
// take 2 MiB and 1 GiB pages. Reserved and device ranges end a run: they are
// never mapped as RAM.
#pragma once

#include <stdint.h>

#include "mm/memory_ranges.h"

namespace mm {

struct RamRun {
    PhysAddr start;
    PhysAddr end;     // exclusive
    uint64_t ranges;  // how many ranges of the list it merges
};

inline bool is_ram(const MemoryRange& range) { return is_ram_class(range_class(range.kind)); }

// Calls visit(const RamRun&) for each run in address order; stops early, and
// returns false, when visit returns false.
template <typename Visit>
bool for_each_ram_run(const MemoryRangeList& ranges, Visit&& visit) {
    for (size_t i = 0; i < ranges.count();) {
        if (!is_ram(ranges[i])) {
            ++i;
            continue;
        }
        RamRun run{ranges[i].start, ranges[i].end, 1};
        for (++i; i < ranges.count() && is_ram(ranges[i]) && ranges[i].start == run.end; ++i) {
            run.end = ranges[i].end;
            ++run.ranges;
        }
        if (!visit(run)) return false;
    }
    return true;
}

}  // namespace mm
