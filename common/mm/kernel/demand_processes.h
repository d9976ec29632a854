// Processes on demand (chapter 13): chapter 12's programs, run one at a time
// as before, but nothing of a program is mapped before it runs. Its ELF
// segments and its stack become regions (process_memory.h), its tables start
// with the kernel's half only, and each page arrives on first touch
// (demand_faults.h); mmap, munmap and mprotect change the regions while it
// runs (memory_syscalls.h).
//
// Per program, beside chapter 12's start and exit lines (processes.h):
//   [INFO  vm] region pid=… start=0x… end=0x… rights=r-x kind=file
//   [INFO  vm] region pid=… start=0x… end=0x… rights=rw- kind=stack grow-limit=0x… guard-gap=1MiB
//   … its system calls and faults …
//   [INFO  vm] usage pid=… faults=… zero-fill=… file-copy=… file-map=… stack-grown=… pages=… tables=… frames=…
//   [INFO  user] audit pid=… user-pages=… … ok=yes     (the tables the faults built, chapter 12's audit)
//   [INFO  user] exit pid=… … used-before=… used-after=… balanced=yes
#pragma once

#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/address_space.h"
#include "mm/kernel/processes.h"
#include "mm/user_elf.h"
#include "mm/user_regions.h"

namespace mm {

// Chapter 12's ring-3 plumbing and fault reports, then this chapter's system
// calls and first-touch path in front of them.
void start_demand_paging();

// The program as regions (its ELF segments, file-backed, and its stack),
// logged one `[INFO  vm] region …` line each; nothing is mapped. False, with
// a `[WARN  user] rejected …` line, when a region is refused.
bool describe_process(const Process& process, const UserImage& image, UserRegions& regions);

// Runs every boot module, in order, on demand.
void run_boot_modules_on_demand(KernelAddressSpace& space, BitmapFrameAllocator& frames);

}  // namespace mm
