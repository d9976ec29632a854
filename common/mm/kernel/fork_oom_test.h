// Fault injection for fork (chapter 14's tests), beside the story.
//
// With `test.fork-oom=NAME` on the command line, a fork by the program NAME
// gets its child's page tables from a source that runs dry after five frames
// (the child's PML4 and the tables for its first pages: its text and rodata
// share one page table, its data pages need another), so the clone fails
// part-way, with leaves already shared and counted, as it would on a machine
// out of memory, and must undo every table and count it made:
//   [WARN  test] fork runs out of frames pid=… name=… after=5
// Without it the child's tables come from the kernel's allocator.
#pragma once

#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/processes.h"

namespace mm {

FrameSource& fork_table_frames(const Process& parent, BitmapFrameAllocator& frames);

}  // namespace mm
