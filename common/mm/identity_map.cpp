#include "identity_map.h"

#include "mapping_log.h"
#include "support/log.h"

namespace mm {
namespace {

bool is_ram(const MemoryRange& range) { return range_class(range.kind) != RangeClass::kDevice; }

}  // namespace

// book:begin identity-map-low-memory
MapResult identity_map_low_memory(PageTableBuilder& builder, const MemoryRangeList& ranges, CpuPagingFeatures cpu) {
    const MappingPolicy policy = fit_to_cpu(identity_low_memory_policy(cpu.pages_1gib), cpu);
    MapStats phase;
    uint64_t ram_ranges = 0, runs = 0;
    for (size_t i = 0; i < ranges.count();) {
        if (!is_ram(ranges[i])) { ++i; continue; }
        // One run: this RAM range and every RAM range that touches it.
        PhysAddr start = ranges[i].start, end = ranges[i].end;
        for (++ram_ranges, ++i; i < ranges.count() && is_ram(ranges[i]) && ranges[i].start == end; ++ram_ranges, ++i)
            end = ranges[i].end;
        if (start < kIdentityMapFloor) start = kIdentityMapFloor;  // page 0 is never mapped
        if (end <= start) continue;

        const VirtAddr va(start.value());
        const MapResult run = builder.map_range(va, start, end - start, policy);
        if (!run.ok()) {
            log_map_rejection("identity_map_low_memory", "ram", va, start, end - start, run);
            return run;
        }
        ++runs;
        page_counts(klog::info("paging").msg("identity run").kv("start", klog::hex(start.value()))
                        .kv("end", klog::hex(end.value())), run.mapped);
        phase += run.mapped;
    }
    page_counts(klog::info("paging").msg("phase identity_map_low_memory").kv("ranges", ram_ranges).kv("runs", runs),
                phase)
        .kv("flags", flags_text(policy.leaf_flags).text);
    return {MapStatus::kOk, VirtAddr(kIdentityMapFloor.value()), phase};
}
// book:end identity-map-low-memory

}  // namespace mm
