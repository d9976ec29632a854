// A hold point in a program (chapter 13's tests), beside the story.
//
// With `hold vm.hold=NAME` on the command line, the kernel stops at the first
// write of the program NAME (the sparse program writes what it touched, then
// gives it back), with its PML4 in CR3, and prints what the process holds:
//   [INFO  vm] usage pid=… name=… pages=… borrowed=… tables=… faults=… …
//   [INFO  kernel] holding for monitor pid=… name=… cr3=0x…
// so the tests can hold the kernel's counts against QEMU's `info tlb` of the
// same tables (tests/test_13_demand_paging.py). Without both it does nothing.
#pragma once

#include "mm/kernel/process_memory.h"
#include "mm/kernel/processes.h"

namespace mm {

void hold_with_usage_if_requested(const Process& process, ProcessMemory& memory);

}  // namespace mm
