// A scripted sequence of unmaps, with the shootdown's IPIs and flushes
// counted (chapter 15).
//
// One shared address space; before each step the script loads it on the
// step's CPUs (and off the others), has each of them read every page of the
// step (so their TLBs hold the translations), then the step's initiator
// unmaps the pages through a ShootdownBatch and maps each to a fresh frame
// (allocated before the old ones are freed, so a stale entry could not
// land on its own page's new contents by chance), and each loaded CPU
// reads the pages again. The steps, for N CPUs online:
//
//   step  initiator  loaded on                 pages   what it shows
//   1     0          all                       1       one IPI per other CPU
//   2     0          all                       4       batched: still one each
//   3     0          all                       12      above the threshold: full flushes
//   4     N-1        the even CPUs and N-1     3       only the CPUs with the space loaded
//   5     0          0 only                    2       nobody to ask: no IPI
//
// The kernel logs the step (its inputs) and what happened, counted where it
// happened — IPIs by the sender, acknowledgements, INVLPGs and CR3 reloads
// by each target — so the tests predict the counts from the first line
// and compare them with the second:
//   [INFO  tlb] script step=3 initiator=0 loaded=0xf pages=12 va=0x40200000 threshold=8
//   [INFO  tlb] shootdown step=3 ipis=3 acks=3 remote-invlpg=0 remote-full=3 rounds=1 frames-freed=12 stale-reads=0
// Then the batching line: the same 12 pages unmapped in one batch and one
// batch per page, on every CPU, IPIs counted for each:
//   [INFO  tlb] batching pages=12 cpus=4 ipis-batched=3 ipis-per-page=36
#pragma once

#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/address_space.h"

namespace mm {

void run_shootdown_script(KernelAddressSpace& space, BitmapFrameAllocator& frames);

}  // namespace mm
