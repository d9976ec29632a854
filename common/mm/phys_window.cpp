#include "mm/phys_window.h"

#include "mm/mapping_log.h"
#include "support/log.h"

namespace mm {

// book:begin map-phys-offset-regions
MapResult map_phys_offset_regions(PageTableBuilder& builder, const MemoryRangeList& ranges,
                                  const FrameExceptions& exceptions, CpuPagingFeatures cpu) {
    // The window ends where its region of the address space ends (64 TiB of
    // physical addresses, then the MMIO window; at five levels all 2^52):
    // RAM beyond is refused by name rather than mapped in part.
    const PhysWindowPlace place = phys_window();
    const RamMapping window = {"map_phys_offset_regions", "window run", place.base.value(), PhysAddr(0),
                               place.size, "phys-window",
                               fit_to_cpu(phys_window_policy(), cpu)};
    RamMapSummary summary;
    const MapResult mapped = map_ram_runs(builder, ranges, exceptions, window, &summary);
    if (!mapped.ok()) return mapped;
    page_counts(klog::info("paging").msg("phase map_phys_offset_regions").kv("ranges", summary.ranges)
                    .kv("runs", summary.runs).kv("base", klog::hex(place.base)), summary.stats)
        .kv("split-by-mtrr", summary.stats.split_by_mtrr).kv("flags", flags_text(window.policy.leaf_flags).text);
    return mapped;
}
// book:end map-phys-offset-regions

}  // namespace mm
