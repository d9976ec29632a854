// First touch (chapter 13): the page-fault path that fills a page the first
// time a program touches it, and refuses every other fault.
//
// It goes in front of chapter 12's exception table (it takes the fixup hook
// and calls kernel::fix_up_user_access for the rest), because it is asked
// first: a page fault
// at a user address while a program runs is looked up in the program's
// regions (decide_fault, mm/demand_fault.h), and
//   - allowed and not there yet: a frame is mapped, and the faulting
//     instruction runs again, in ring 3 or in the kernel's copy from user
//     memory alike (Linux serves both the same way);
//   - anything else from ring 3: the program is killed with chapter 12's
//     report, in its keys, naming the rule
//       [WARN  user] killed pid=… name=… rule=no-region addr=0x… access=read present=no rip=0x… vector=14 why="…"
//   - anything else from the kernel's copy: passed on to the exception
//     table, which ends the copy (chapter 12's user-pointer-fault).
// Other exceptions go to chapter 12's and chapter 10's handlers as before.
#pragma once

#include "mm/demand_fault.h"
#include "mm/kernel/process_memory.h"

namespace mm {

void install_first_touch();

// Fills the page `decision` names (it is not a refusal): a zeroed frame, the
// module's frame or a copy of it. False when no frame is left.
bool serve_page(ProcessMemory& memory, const FaultDecision& decision);

}  // namespace mm
