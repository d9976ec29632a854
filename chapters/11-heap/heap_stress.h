// The chapter's self-test: the steady-state frame allocator and the heap
// under load, with every byte checked and the counters compared before and
// after.
#pragma once

#include "mm/bitmap_frame_allocator.h"

// Frames: thousands allocated, stamped through the window, checked, freed in
// a shuffled order; the counters must return exactly to where they were.
//   [INFO  frames] stress passed frames=… rounds=… pattern-checks=… used-before=… used-after=…
// Heap: thousands of new/delete of mixed sizes and alignments, each payload
// filled and checked, everything freed; the heap's live count and used bytes
// return to where they were, and every frame the frame allocator lost is a
// heap page or a page table mapped for the heap.
//   [INFO  heap] stress passed operations=… allocations=… frees=… max-live=… bytes=… …
// A failure is logged by name and ends the boot with the failure code.
void run_stress_test(mm::BitmapFrameAllocator& frames);
