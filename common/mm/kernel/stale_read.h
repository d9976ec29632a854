// The stale read across CPUs, shown, then gone (chapter 15).
//
// Chapter 07 showed one CPU reading through a translation its own TLB kept
// after the entry changed. Here the TLB that keeps it is another CPU's:
//
//   CPU A (index 1)                      CPU B (the BSP)
//   loads the space, reads va: 0x5eed0001
//   waits                                unmaps va, INVLPG on B only,
//                                        maps va to a new frame (0x5eed0002)
//   reads va again: ?
//
// With only B's INVLPG, A still holds the old translation and reads the old
// frame. QEMU's TCG keeps a software TLB per virtual CPU and, like the
// hardware, never looks at the tables again while an entry is cached, so
// the result is the same on every run. The old frame is kept until A has
// left the space (its CR3 load drops the entry): freeing it earlier would
// let A write into a frame someone else owns. Then the same with the
// unmap's token flushed into a ShootdownBatch: A gets an IPI, invalidates,
// acknowledges, and reads the new frame. Logs
//   [INFO  tlb] stale read cpu=1 va=0x400a5000 protocol=local-invlpg expected=0x5eed0002 got=0x5eed0001
//   [INFO  tlb] fresh read cpu=1 va=0x400a5000 protocol=shootdown expected=0x5eed0003 got=0x5eed0003 ipis=1
#pragma once

#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/address_space.h"

namespace mm {

// Needs two CPUs online; with one, says so and returns.
void show_stale_read(KernelAddressSpace& space, BitmapFrameAllocator& frames);

}  // namespace mm
