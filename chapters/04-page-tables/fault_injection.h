// Fault injection for chapter 04, beside the story: `test.remap` on the
// command line maps the kernel image a second time; the builder must refuse
// (a present page is never remapped), and the kernel must say so and stop
// (tests/test_04_page_tables.py).
#pragma once

#include "mm/cpu_paging_features.h"
#include "mm/kernel_image_map.h"
#include "mm/page_table_builder.h"

// Does nothing unless the command line asks; otherwise does not return.
void remap_if_requested(mm::PageTableBuilder& builder, const mm::KernelImageLayout& layout,
                        const mm::KernelPlacement& placement, mm::CpuPagingFeatures cpu);
