// The running kernel's image as the linker laid it out, in the terms
// map_kernel_image takes: the layout from the linker script's symbols
// (image_layout.h); its placement is the handoff's (HandoffView::kernel).
// Kernel only: host tests build these structs by hand.
#pragma once

#include "kernel/image_layout.h"
#include "kernel/panic.h"
#include "mm/kernel_image_span.h"
#include "mm/memory_map_log.h"

namespace kernel {

inline mm::KernelImageLayout linked_image_layout() {
    auto va = [](const char* symbol) { return mm::VirtAddr(reinterpret_cast<uint64_t>(symbol)); };
    return {va(__text_start), va(__text_end), va(__rodata_start), va(__rodata_end),
            va(__data_start), va(__boot_stack_guard), va(__boot_stack_bottom), va(__kernel_end)};
}

// The handoff's placement of this image, once check_kernel_placement()
// accepted it with the linked layout; otherwise the boot ends, naming the
// field. Everything that derives frames from the placement (the image's
// mapping, the RAM mappings' read-only exceptions) asks this first.
inline mm::KernelPlacement checked_kernel_placement(const mm::KernelPlacement& placement) {
    if (Violation v = mm::check_kernel_placement(linked_image_layout(), placement); !v.ok()) {
        mm::log_rejection("paging", "kernel placement", v);
        fail();
    }
    return placement;
}

}  // namespace kernel
