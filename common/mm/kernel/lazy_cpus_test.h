// The test hook that leaves lazy CPUs alone (chapter 15).
//
// `test.lazy-cpus-stay` makes a process's page changes skip the request that
// sends the other CPUs off its tables (process_cpus.h): each CPU that kept
// them goes on using its cached translations. The program `hop` then reads
// the old frames of the pages it replaced and says so (`stale=` above 0),
// which is what the tests need to see once: that the check can fail. Exits
// still send the CPUs off, so no CPU keeps freed tables in CR3.
#pragma once

namespace mm {

// True when the command line asks for it (logged at its first use):
//   [WARN  tlb] lazy cpus keep their tables on request rule="test.lazy-cpus-stay: stale translations stay"
bool test_keeps_lazy_cpus();

}  // namespace mm
