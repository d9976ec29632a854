// The running kernel's image as the linker laid it out, in the terms
// map_kernel_image takes: the layout from the linker script's symbols
// (image_layout.h); its placement is the handoff's (HandoffView::kernel).
// Kernel only: host tests build these structs by hand.
#pragma once

#include "kernel/image_layout.h"
#include "mm/kernel_image_span.h"

namespace kernel {

inline mm::KernelImageLayout linked_image_layout() {
    auto va = [](const char* symbol) { return mm::VirtAddr(reinterpret_cast<uint64_t>(symbol)); };
    return {va(__text_start), va(__text_end), va(__rodata_start), va(__rodata_end),
            va(__data_start), va(__boot_stack_guard), va(__boot_stack_bottom), va(__kernel_end)};
}

}  // namespace kernel
