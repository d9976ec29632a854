// The handover from the boot allocator to the steady-state one (chapter 11).
//
// Once the kernel runs on its own tables in the upper half, the boot
// allocator's record (a cursor per region) becomes a bitmap that can also take
// frames back (bitmap_frame_allocator.h). The phase logs where the managed
// memory came from, per UEFI type, so the reclaimed boot-services and loader
// memory can be compared with the firmware's own map, and stops the boot when
// the two accounts disagree.
#pragma once

#include "mm/kernel/address_space.h"

#include "mm/bitmap_frame_allocator.h"
#include "mm/boot_frame_allocator.h"
#include "mm/boot_memory.h"

namespace mm {

//   [INFO  frames] usable type=boot-data frames=… bytes=…      one per UEFI type
//   [INFO  frames] reclaimed frames=… bytes=… from=boot-code+boot-data+loader-data
//   [INFO  frames] handover to=bitmap regions=… frames=… inherited=… reserve-moved=… reserve=… bitmap=… bitmap-frames=… used=… free=…
void hand_over_frames(KernelAddressSpace& space, BitmapFrameAllocator& steady);

// One line with the allocator's counters: `[INFO  frames] stats when=<when> …`.
void log_frame_stats(const char* when, const BitmapFrameAllocator& frames);

// free(), and a rejection logged by name; false when it was refused:
//   [ERROR frames] free rejected frame=0x… reason=double-free rule="…"
bool free_frame_or_log(BitmapFrameAllocator& frames, PhysAddr frame);
// The same, and a rejection stops the boot.
void free_frame_or_stop(BitmapFrameAllocator& frames, PhysAddr frame);

}  // namespace mm
