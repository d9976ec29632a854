// A hold point inside a program (chapter 12's tests), beside the story.
//
// With `hold user.hold=NAME` on the command line, the kernel stops at the
// first system call of the program NAME, with that process's PML4 in CR3,
// and prints the line the test harness waits for:
//   [INFO  kernel] holding for monitor pid=… name=… cr3=0x…
// The tests then read QEMU's `info tlb` and `info registers` under the
// process's tables (tests/test_12_user_space.py). Without both options it
// does nothing.
#pragma once

#include "mm/kernel/processes.h"

namespace mm {

void hold_in_program_if_requested(const Process& process);

}  // namespace mm
