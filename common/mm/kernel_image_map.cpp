#include "mm/kernel_image_map.h"

#include "mm/mapping_log.h"
#include "support/log.h"

namespace mm {

// book:begin map-kernel-image
MapResult map_kernel_image(PageTableBuilder& builder, const KernelImageLayout& layout,
                           const KernelPlacement& placement, CpuPagingFeatures cpu) {
    MapStats phase;
    for (const KernelImageSection& section : kernel_image_sections(layout, placement).sections) {
        const ImageSpan& s = section.span;
        const MappingPolicy policy = fit_to_cpu(section.policy, cpu);
        const MapResult mapped = builder.map_range(s.va_start, s.pa_start, s.length, policy);
        if (!mapped.ok()) {
            log_map_rejection("map_kernel_image", section.name, s.va_start, s.pa_start, s.length, mapped);
            return mapped;
        }
        klog::info("paging").msg("map").kv("section", section.name).kv("va", klog::hex(s.va_start))
            .kv("pa", klog::hex(s.pa_start)).kv("size", klog::size(s.length))
            .kv("flags", flags_text(policy.leaf_flags).text);
        phase += mapped.mapped;
    }
    const KernelImageGuards guards = kernel_image_guards(layout);
    klog::info("paging").msg("guard").kv("name", "below-image").kv("va", klog::hex(guards.below_image));
    klog::info("paging").msg("guard").kv("name", "boot-stack").kv("va", klog::hex(guards.boot_stack));
    klog::info("paging").msg("guard").kv("name", "above-image").kv("va", klog::hex(guards.above_image));
    page_counts(klog::info("paging").msg("phase map_kernel_image").kv("sections", uint64_t(kKernelImageSectionCount)),
                phase).kv("guards", 3);
    return {MapStatus::kOk, placement.virtual_base, phase};
}
// book:end map-kernel-image

}  // namespace mm
