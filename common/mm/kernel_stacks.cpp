#include "mm/kernel_stacks.h"

#include "mm/mapping_log.h"
#include "mm/mapping_policy.h"
#include "support/log.h"

namespace mm {

// book:begin map-kernel-stacks
MapResult map_kernel_stacks(PageTableBuilder& builder, FrameSource& frames, CpuPagingFeatures cpu) {
    const MappingPolicy policy = fit_to_cpu(kKernelDataPolicy, cpu);
    MapStats phase;
    for (size_t i = 0; i < kKernelStackCount; ++i) {
        const KernelStack stack = kernel_stack(i);
        // Page by page: each frame is wherever the FrameSource found one.
        for (VirtAddr va = stack.bottom; va < stack.top; va = va + kPageSize) {
            const FrameResult frame = frames.alloc_frame();
            if (!frame.ok()) {
                klog::error("paging").msg("no frame for a stack").kv("name", stack.name).kv("va", klog::hex(va));
                return {MapStatus::kOutOfTableFrames, va, {}};
            }
            const MapResult mapped = builder.map_range(va, frame.frame(), kPageSize, policy);
            if (!mapped.ok()) {
                log_map_rejection("map_kernel_stacks", stack.name, va, frame.frame(), kPageSize, mapped);
                return mapped;
            }
            phase += mapped.mapped;
        }
        klog::info("paging").msg("stack").kv("name", stack.name).kv("ist", uint64_t(stack.ist)).kv("vector", uint64_t(stack.vector))
            .kv("va", klog::hex(stack.bottom)).kv("size", klog::size(kKernelStackSize))
            .kv("top", klog::hex(stack.top)).kv("guard", klog::hex(stack.guard))
            .kv("flags", flags_text(policy.leaf_flags).text);
    }
    page_counts(klog::info("paging").msg("phase map_kernel_stacks").kv("stacks", uint64_t(kKernelStackCount))
                    .kv("base", klog::hex(layout::kKernelStacksBase)), phase)
        .kv("guards", uint64_t(kKernelStackCount));
    return {MapStatus::kOk, layout::kKernelStacksBase, phase};
}
// book:end map-kernel-stacks

}  // namespace mm
