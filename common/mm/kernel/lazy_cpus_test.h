// The test hook that leaves lazy CPUs alone (chapter 15).
//
// `test.lazy-cpus-stay=NAME` makes the named program's page changes skip the
// request that sends the other CPUs off its tables (process_cpus.h): each
// CPU that kept them goes on using its cached translations. The program
// `hop`, whose changes free no page table (one page of a four-page region,
// and a change of rights), then reads the old frame of the page it replaced
// and says so (`stale=` above 0): what the tests need to see once, that the
// check can fail. It relies, as chapter 07's stale read does, on QEMU's TCG
// keeping a translation until it is invalidated; a real CPU may drop one
// earlier. Other programs keep the request, and exits always send the CPUs
// off, so no CPU keeps freed tables in CR3.
#pragma once

#include "support/str.h"

namespace mm {

// True when the command line names `program` (logged at its first use):
//   [WARN  tlb] lazy cpus keep their tables on request program=hop rule="test.lazy-cpus-stay: stale translations stay"
bool test_keeps_lazy_cpus(const char* program);

}  // namespace mm
