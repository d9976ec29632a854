// Chapter 10's faults on purpose: `test.fault=WHAT` makes the kernel fault
// one way (a null dereference, a write to text or rodata, executing data, a
// stack overflow into the boot stack's guard, a non-canonical address, the
// IST guard, the window's hole, a double fault), and `test.fault=all` every
// way in turn under a recovery point (tests/test_10_page_faults.py). The
// functions keep their names in namespace fault_on_request, so that nm and
// addr2line name them in a report.
#pragma once

#include "mm/memory_ranges.h"

namespace fault_on_request {

// Does nothing unless the command line asks; otherwise does not return.
void fault_if_requested(const mm::MemoryRangeList& ranges);

}  // namespace fault_on_request
