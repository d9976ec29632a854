// The allocator run dry, on request: `test.exhaust` on the command line
// allocates until the allocator says no. It must say so as a result (never a
// bogus frame), and page tables must still get their reserve
// (tests/test_03_frame_allocator.py). The boot then goes on as usual.
#pragma once

#include "mm/boot_frame_allocator.h"

// Why a frame must not have been handed out, or null when it is fine.
using FrameProblem = const char* (*)(mm::PhysAddr frame);

// Does nothing unless the command line asks; checks every frame with `problem`.
void exhaust_if_requested(mm::BootFrameAllocator& frames, FrameProblem problem);
