// Fault injection for chapter 11, beside the story. `test.heap-guard` reads
// the page below the heap, which must end in chapter 10's page-fault report;
// `test.bad-free=KIND` makes one bad free through the real free functions,
// which must refuse it by name, and `test.bad-free=all` every kind in turn
// (tests/test_11_heap.py). Either ends the boot with the failure code.
#pragma once

#include "mm/bitmap_frame_allocator.h"

// Does nothing unless the command line asks; otherwise does not return.
void break_the_heap_if_requested(mm::BitmapFrameAllocator& steady);
