// A hold point in a forked child (chapter 14's tests), beside the story.
//
// With `hold cow.hold=NAME` on the command line, the kernel stops at the
// first write of a child of the program NAME, with the child's PML4 in CR3,
// and prints what both processes hold and where the parent's tables are:
//   [INFO  cow] usage pid=… name=… parent=… copied=… taken-over=… pages=… tables=…
//   [INFO  kernel] holding for monitor pid=… name=… cr3=0x… parent-pml4=0x…
// so the tests can read QEMU's `info tlb` under the child's CR3 and walk the
// parent's tables with physical reads, and see which frames the two share
// (tests/test_14_copy_on_write.py). Without both options it does nothing.
#pragma once

#include "mm/kernel/scheduler.h"

namespace mm {

void hold_in_child_if_requested(const Task& task);

}  // namespace mm
