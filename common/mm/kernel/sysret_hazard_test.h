// The SYSRET hazard on request (chapter 12's tests), beside the story.
//
// No program can cause the hazard: a SYSCALL would have to sit in the last
// bytes below 2^47, and the kernel never maps that page (user_layout.h). So
// `test.sysret-rip=NAME` plays the part: at the first system call of the
// program NAME it sets the saved return RIP to 2^47, the first non-canonical
// address, and the runtime's check before SYSRET must end the program
// instead of returning to it:
//   [WARN  test] sysret rip damaged on request pid=… name=… rip=0x800000000000
//   [WARN  user] killed rule=sysret-non-canonical-rip rip=0x800000000000
// The other programs run as before, and the kernel reaches `ready`.
#pragma once

#include "kernel/user_mode.h"
#include "mm/kernel/processes.h"

namespace mm {

void damage_sysret_rip_if_requested(const Process& process, kernel::SyscallFrame& frame);

}  // namespace mm
