// The memory map in the boot log: the firmware's descriptors as a table, the
// normalised ranges, and totals per class. Later chapters print the ranges
// they build on, so the lines are defined once here; tests and the book parse
// them (see chapters/02-memory-map/README.md for a real excerpt).
#pragma once

#include "boot/handoff.h"
#include "mm/memory_descriptor_view.h"
#include "mm/memory_ranges.h"
#include "support/violation.h"

namespace mm {

// [INFO  memmap] descriptor index=3 type=conventional start=0x100000 end=0x800000 size=7MiB attributes=0xf
void log_descriptors(const MemoryDescriptorView& map);
// [INFO  memmap] range start=0x100000 end=0x800000 size=7MiB kind=usable
// and after them one line per range set aside (MemoryRangeList::set_aside):
// [INFO  memmap] set aside what=framebuffer start=… end=… size=… was=reserved ram=0B reason="…"
void log_ranges(const MemoryRangeList& ranges);
void log_set_aside(const SetAside& set_aside);
// [INFO  memmap] totals usable=… loader-owned=… firmware=… reserved=… device=… ram=… ranges=N
void log_totals(const MemoryRangeList& ranges);
// One line per descriptor classify_descriptor() refused to take at its type's
// word (a RAM type without WB, an unknown type, named by its number):
// [WARN  memmap] not ram index=7 type=0x70000001 name=oem-defined start=… end=… attributes=0xf kind=reserved rule="…"
// Returns how many it logged.
uint64_t log_refused_descriptors(const MemoryDescriptorView& map);
// [ERROR memmap] handoff rejected field=descriptor_size value=0x18 rule="…" [index=N]
void log_rejection(const char* subsystem, const char* what, const Violation& violation);

}  // namespace mm
