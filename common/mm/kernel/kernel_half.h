// share_kernel_half: every process shares the kernel's upper half (chapter 12).
//
// A process's PML4 copies the kernel's 256 upper entries (user_address_space.h).
// An entry names a PDPT, so whatever the kernel maps under that PDPT later is
// seen by every process at once. An entry that is empty at the copy is not:
// a PDPT the kernel created afterwards would be in its own PML4 only, and a
// process running then would fault on that part of the kernel. So every
// upper slot gets a PDPT now, once, before the first process: 256 slots, most
// of them one empty 4 KiB table (Linux does the same for its vmalloc area,
// preallocate_vmalloc_pages, and for the same reason).
#pragma once

#include "mm/bitmap_frame_allocator.h"
#include "mm/kernel/address_space.h"

namespace mm {

//   [INFO  paging] phase share_kernel_half slots=256 present-before=… tables=… frames-from=bitmap
void share_kernel_half(KernelAddressSpace& space, BitmapFrameAllocator& frames);

}  // namespace mm
