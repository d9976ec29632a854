// Phase map_kernel_image: the kernel at its link address, section by section.
//
// text RX, rodata R+NX, data and .bss RW+NX, the boot stack RW+NX, all with
// 4 KiB pages (kernel_image_span.h draws the layout and its guard math), and
// three guard pages left unmapped: below the image, below the boot stack and
// past the end of the image.
#pragma once

#include "mm/cpu_paging_features.h"
#include "mm/kernel_image_span.h"
#include "mm/page_table_builder.h"

namespace mm {

// The layout and placement must have passed check_kernel_placement(). Logs
// one line per section, one per guard page and one for the phase; on a
// refusal logs `map rejected` and returns it.
MapResult map_kernel_image(PageTableBuilder& builder, const KernelImageLayout& layout,
                           const KernelPlacement& placement, CpuPagingFeatures cpu);

}  // namespace mm
