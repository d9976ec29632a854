// Chapter 14's processes on every CPU (chapter 15).
//
// The scheduler stays chapter 14's: one turn at a time, each until the
// process gives the CPU back at a system call. What changes is where a turn
// runs: each goes to the next online CPU, round robin, through that CPU's
// mailbox (start_on), while the BSP waits — as long as the turn lasts. So a process moves from CPU to CPU
// at every turn. One CPU runs a program at a time: the frame allocator, the
// counts and the task table are not built for CPUs changing them at once,
// and a kernel that runs programs in parallel puts locks around them first.
//
// An AP whose turn ends goes back to its idle loop with the process's tables
// still in CR3 — Linux's "lazy TLB" mode does the same for a CPU that has
// nothing else to run: if that process is its next turn, nothing is loaded
// and its TLB is still warm. But such a CPU holds the process's
// translations, so it stays in the process's ProcessTlb::cpus(), and a
// change the process makes on another CPU must reach it before a frame is
// given back. It is told to leave the tables (the kernel's CR3, its bit
// cleared): one IPI, after which it is no target for the rest of the unmap —
// as Linux switches a lazy CPU to init_mm rather than flushing it again.
// The same happens before an exiting process's tables go back. The BSP
// loads the kernel's tables after each of its own turns: it goes on to run
// the scheduler, which ends processes and gives their tables back.
//   [INFO  sched] run pid=… name=… cr3=0x… cpu=2 tables=kept|loaded
//   [INFO  tlb] lazy cpus left pid=… cr3=0x… initiator=… targets=0x… ipis=… for=invalidate|exit
#pragma once

#include "mm/kernel/process_tlb.h"

namespace mm {

// The phase: from here on the scheduler's turns run on every online CPU.
//   [INFO  sched] turns cpus=0x… order=round-robin lazy=aps
void run_processes_on_every_cpu();

// On this CPU, from the shootdown handler: if it keeps `tables` loaded after
// a turn, loads the kernel's CR3, clears its bit and returns true.
bool leave_lazy_tables(ProcessTlb& tables);

}  // namespace mm
