// The reference counts beside the kernel's frame allocator (chapter 14).
//
// Once fork shares frames, each counted frame needs a count of the leaves
// that map it (mm/frame_ref_counts.h). This phase sets them up once, after
// the handover, beside the allocator every process's frames come from: one
// count per frame it manages, in count pages taken from that allocator and
// written through the phys-offset window.
//   [INFO  cow] refcounts frames=… count-pages=… bytes=…
#pragma once

#include "mm/bitmap_frame_allocator.h"
#include "mm/frame_ref_counts.h"

namespace mm {

// Covers every frame of `frames`; a refusal stops the boot, naming it.
FrameRefCounts& start_frame_counts(BitmapFrameAllocator& frames);

// The counts start_frame_counts() made.
FrameRefCounts& frame_counts();

}  // namespace mm
