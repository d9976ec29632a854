// Processes that fork (chapter 14): chapter 13's programs, on demand as
// before, but a program may now fork, and its children run beside it under
// the cooperative scheduler (scheduler.h) until the whole family has ended.
//
// Per boot module:
//   [INFO  user] start name=… pid=… entry=0x… pml4=0x… …       (its first process)
//   … [INFO  sched] run …, its system calls, forks, copy-on-write faults …
//   [INFO  user] exit pid=… name=… end=exit code=… pages=… still-shared=… tables=…   (each process)
//   [INFO  cow] family done name=… processes=… copied=… taken-over=… references=0 counted-frames=0 used-before=… used-after=… balanced=yes
// and after every fork and every exit, the copy-on-write audit over every
// live address space (mm/cow_audit.h):
//   [INFO  cow] audit after=fork spaces=2 counted=… cow=… shared=… writable-cow=0 writable-shared=0 mismatch=0 unaccounted=0 ok=yes
#pragma once

#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/address_space.h"
#include "mm/kernel/scheduler.h"

namespace mm {

// Chapter 13's system calls, faults and reports, then the reference counts
// beside `frames`, fork/yield/wait in front of the calls, and the
// copy-on-write faults in front of the first touch.
void start_copy_on_write(BitmapFrameAllocator& frames);

// Runs every boot module, in order, each with the processes it forks.
void run_boot_modules_with_fork(KernelAddressSpace& space, BitmapFrameAllocator& frames);

// The audit over every live address space; a finding stops the boot (the
// kernel built these tables). `after` names the event, for the log.
void log_cow_audit(const char* after);

// What a task holds now, one line:
//   [INFO  cow] usage pid=… name=… parent=… state=… copied=… taken-over=… faults=… pages=… tables=…
void log_task_usage(const Task& task);

}  // namespace mm
