// The kernel heap (chapter 11): HeapAllocator over the heap window of the
// layout, grown on demand by mapping fresh frames from the steady-state
// frame allocator through PageTableBuilder — the same builder every mapping
// phase used, now fed by a different FrameSource. operator new and delete
// (every sized, aligned and nothrow form) are defined in kernel_heap.cpp, so
// only a kernel that links this module has them.
//
// The heap's first page is never mapped: a guard, so that running off the
// front of the heap (or a pointer computed from a null heap base) faults.
//
//   0xFFFFE00000000000   guard page, never mapped
//   0xFFFFE00000001000   heap: blocks up to mapped_end(), RW+NX, 4 KiB pages
//   …                    not mapped yet: the heap grows into it
//   0xFFFFE01000000000   end of the heap window (64 GiB)
#pragma once

#include "mm/kernel/address_space.h"

#include "mm/address_space_layout.h"
#include "mm/bitmap_frame_allocator.h"
#include "mm/cpu_paging_features.h"
#include "mm/heap_allocator.h"
#include "mm/physical_memory.h"

namespace mm {

inline constexpr VirtAddr kHeapGuard = layout::kHeapBase;
inline constexpr VirtAddr kHeapStart = layout::kHeapBase + kPageSize;
inline constexpr uint64_t kHeapCapacity = layout::kHeapWindowSize - kPageSize;
// What create_heap maps at once; the rest comes as allocations need it.
inline constexpr uint64_t kHeapInitialBytes = HeapAllocator::kGrowStep;

// The phase. Builds a PageTableBuilder over the live tables with `frames` as
// its FrameSource, starts the heap and maps its first pages:
//   [INFO  paging] phase create_heap va=… guard=… bytes=… pages-4k=… flags=P|RW|NX tables=… frames-from=bitmap
void create_heap(KernelAddressSpace& space, BitmapFrameAllocator& frames);

HeapAllocator& kernel_heap();
// Page-table frames the heap's growth took so far (for the stress test's balance).
uint64_t kernel_heap_tables();

// One line with the heap's counters: `[INFO  heap] stats when=<when> …`.
void log_heap_stats(const char* when);

// free(), and a rejection logged by name; false when it was refused:
//   [ERROR heap] free rejected ptr=0x… reason=double-free rule="…"
bool free_or_log(void* payload);
// The same, and a rejection stops the boot (operator delete uses it).
void free_or_stop(void* payload);

}  // namespace mm
