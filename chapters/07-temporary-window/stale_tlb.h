// What the CPU does without INVLPG, shown on request: `test.stale-tlb` on the
// command line reads through the temporary window's slot, points its PTE at
// another frame, and reads again, once without and once with the flush
// (tests/test_07_temporary_window.py). The boot then goes on as usual.
#pragma once

#include "mm/boot_frame_allocator.h"
#include "mm/temporary_window.h"

// Does nothing unless the command line asks.
void demonstrate_stale_tlb_if_requested(mm::TemporaryWindow& window, mm::BootFrameAllocator& frames);
