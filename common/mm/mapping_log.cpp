#include "mm/mapping_log.h"

namespace mm {

FlagsText flags_text(uint64_t flags, PageTableLevel level) {
    FlagsText out{};
    (void)flags_summary(flags, level, out.text, sizeof(out.text));
    return out;
}

klog::Line& page_counts(klog::Line& line, const MapStats& stats) {
    return line.kv("bytes", klog::size(stats.bytes_mapped()))
        .kv("pages-4k", stats.pages_4k)
        .kv("pages-2m", stats.pages_2m)
        .kv("pages-1g", stats.pages_1g)
        .kv("tables", stats.tables_created);
}

void log_map_rejection(const char* phase, const char* what, VirtAddr va, PhysAddr pa, uint64_t length,
                       const MapResult& result) {
    klog::error("paging").msg("map rejected").kv("phase", phase).kv("what", what)
        .kv("va", klog::hex(va)).kv("pa", klog::hex(pa)).kv("size", klog::size(length))
        .kv("at", klog::hex(result.where)).kv("rule", describe(result.status));
}

}  // namespace mm
