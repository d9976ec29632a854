#include "mm/identity_map.h"

#include "mm/mapping_log.h"
#include "support/log.h"

namespace mm {

// book:begin identity-map-low-memory
MapResult identity_map_low_memory(PageTableBuilder& builder, const MemoryRangeList& ranges,
                                  const FrameExceptions& exceptions, CpuPagingFeatures cpu) {
    const RamMapping identity = {"identity_map_low_memory", "identity run", 0, kIdentityMapFloor, 0, "identity",
                                 fit_to_cpu(identity_low_memory_policy(), cpu)};
    RamMapSummary summary;
    const MapResult mapped = map_ram_runs(builder, ranges, exceptions, identity, &summary);
    if (!mapped.ok()) return mapped;
    page_counts(klog::info("paging").msg("phase identity_map_low_memory").kv("ranges", summary.ranges)
                    .kv("runs", summary.runs), summary.stats)
        .kv("split-by-mtrr", summary.stats.split_by_mtrr).kv("flags", flags_text(identity.policy.leaf_flags).text);
    return mapped;
}
// book:end identity-map-low-memory

}  // namespace mm
