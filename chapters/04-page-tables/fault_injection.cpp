#include "fault_injection.h"

#include "kernel/kernel.h"
#include "kernel/panic.h"
#include "support/log.h"

void remap_if_requested(mm::PageTableBuilder& builder, const mm::KernelImageLayout& layout,
                        const mm::KernelPlacement& placement, mm::CpuPagingFeatures cpu) {
    if (!kernel::command_line().has("test.remap")) return;
    klog::warn("paging").msg("mapping the kernel image twice on request");
    if (!mm::map_kernel_image(builder, layout, placement, cpu).ok()) kernel::fail();
    kernel::panic("the second map_kernel_image was not refused");
}

