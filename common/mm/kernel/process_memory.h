// A running process's memory (chapter 13): its regions, its page tables, the
// module its file regions read from, and what first touches cost it.
//
// Chapter 12 mapped a program whole before it ran; from here the tables start
// empty but for the kernel's half, and grow one page per first touch
// (demand_faults.h), shrink on munmap (memory_syscalls.h), and go back whole
// on exit (demand_processes.h). One of these exists while a program runs.
#pragma once

#include <stdint.h>

#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/process_tlb.h"
#include "mm/kernel/processes.h"
#include "mm/process_frames.h"
#include "mm/user_address_space.h"
#include "mm/user_regions.h"

namespace mm {

// book:begin process-memory
struct ProcessMemory {
    UserRegions regions;
    UserAddressSpace& space;
    BitmapFrameAllocator& frames;
    ProcessFrames& owner;     // who owns its frames: the process alone (SoleOwnerFrames); chapter 14 counts them
    PhysAddr module;          // the boot module's first byte (file regions read from it)
    ProcessTlb tlb;           // every CPU that may cache its translations (INVLPGs counted)

    // First touches served, by how the page was filled, and stack growths.
    uint64_t zero_filled = 0, file_mapped = 0, file_copied = 0, stack_grown = 0;
    uint64_t served() const { return zero_filled + file_mapped + file_copied; }
};
// book:end process-memory

// The running process's memory, or nullptr between programs.
ProcessMemory* current_memory();
void set_current_memory(ProcessMemory* memory);

// What first touches built, one line (the runner prints it at every exit,
// the tests' hold point at the hold):
//   [INFO  vm] usage pid=… name=… faults=… zero-fill=… file-copy=… file-map=… stack-grown=… pages=… borrowed=… tables=… frames=… regions=… stack-low=0x…
void log_usage(const Process& process, ProcessMemory& memory);

}  // namespace mm
