// The frame exceptions of the running kernel's RAM mappings
// (ram_run_mapper.h): its own image's text and rodata, where the loader put
// them, and (chapter 12) the boot modules, read-only: a program's text is
// mapped executable from them in place, so no mapping may make those frames
// writable. (The framebuffer is no exception: the range list sets it aside as
// not RAM, boot_memory.h.) Kernel only: host tests call
// kernel_frame_exceptions() with their own layout.
#pragma once

#include "kernel/panic.h"
#include "mm/kernel/handoff_view.h"
#include "mm/kernel/linked_image.h"
#include "mm/memory_map_log.h"
#include "mm/ram_run_mapper.h"

namespace kernel {

// The exceptions, or the boot ends, naming the field that could not be one.
inline mm::FrameExceptions ram_frame_exceptions(const mm::HandoffView& handoff) {
    mm::FrameExceptions exceptions;
    if (Violation v = mm::kernel_frame_exceptions(linked_image_layout(), checked_kernel_placement(handoff.kernel),
                                                  &exceptions);
        !v.ok()) {
        mm::log_rejection("paging", "frame exceptions", v);
        fail();
    }
    if (handoff.modules_size != 0)
        if (Violation v = exceptions.add(handoff.modules_start, handoff.modules_size, mm::FrameRule::kReadOnly, "boot-modules");
            !v.ok()) {
            mm::log_rejection("paging", "frame exceptions", v);
            fail();
        }
    return exceptions;
}

}  // namespace kernel
