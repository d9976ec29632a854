#include "mm/ram_run_mapper.h"

#include "mm/mapping_log.h"
#include "support/log.h"

namespace mm {

const char* frame_rule_name(FrameRule rule) {
    switch (rule) {
        case FrameRule::kReadOnly: return "read-only";
        case FrameRule::kLeftOut: return "left-out";
    }
    return "?";
}

Violation FrameExceptions::add(PhysAddr start, uint64_t size, FrameRule rule, const char* what) {
    uint64_t last = 0, end = 0;
    if (size == 0) return reject("exception.size", size, "must not be 0");
    if (__builtin_add_overflow(start.value(), size, &last) || !align_up(last, kPageSize, &end) ||
        end > PhysAddr::kLimit)
        return reject("exception.start", start.value(), "must end below the physical address limit");
    if (count_ == kCapacity) return reject("exception.count", count_, "at most 4 frame exceptions");
    const FrameException added{start.page_base(), PhysAddr(end), rule, what};
    size_t at = 0;
    while (at < count_ && items_[at].start < added.start) ++at;
    const bool overlaps_previous = at > 0 && items_[at - 1].end > added.start;
    const bool overlaps_next = at < count_ && items_[at].start < added.end;
    if (overlaps_previous || overlaps_next)
        return reject("exception.start", start.value(), "must not overlap another exception (one rule per frame)");
    for (size_t i = count_; i > at; --i) items_[i] = items_[i - 1];
    items_[at] = added;
    ++count_;
    return accept();
}

// book:begin kernel-frame-exceptions
Violation kernel_frame_exceptions(const KernelImageLayout& layout, const KernelPlacement& placement,
                                  FrameExceptions* out) {
    // Text, then rodata: one block of the image, executable or read-only at -2 GiB.
    const ImageSpan code = kernel_image_span(placement, layout.text_start, layout.rodata_end);
    return out->add(code.pa_start, code.length, FrameRule::kReadOnly, "kernel-image");
}
// book:end kernel-frame-exceptions

namespace {

// RAM that ends beyond what the mapping's region can hold is refused by
// name rather than mapped in part.
MapResult refuse_beyond_the_region(const RamMapping& mapping, PhysAddr start, PhysAddr end) {
    const VirtAddr region_end(mapping.pa_limit + mapping.va_offset);
    klog::error("paging").msg("map rejected").kv("phase", mapping.phase).kv("what", "ram")
        .kv("va", klog::hex(start.value() + mapping.va_offset)).kv("pa", klog::hex(start))
        .kv("size", klog::size(end - start)).kv("at", klog::hex(region_end)).kv("region", mapping.region)
        .kv("rule", describe(MapStatus::kOutsideRegion));
    return {MapStatus::kOutsideRegion, region_end, {}};
}

void log_exception_piece(const RamMapping& mapping, const RamPiece& piece) {
    klog::Line line = klog::info("paging");
    line.msg(frame_rule_name(piece.exception->rule)).kv("phase", mapping.phase).kv("what", piece.exception->what)
        .kv("start", klog::hex(piece.start)).kv("end", klog::hex(piece.end));
    if (piece.exception->rule != FrameRule::kLeftOut && mapping.va_offset != 0)
        line.kv("va", klog::hex(piece.start.value() + mapping.va_offset));
}

}  // namespace

// book:begin map-ram-runs
MapResult map_ram_runs(PageTableBuilder& builder, const MemoryRangeList& ranges, const FrameExceptions& exceptions,
                       const RamMapping& mapping, RamMapSummary* summary) {
    const MappingPolicy read_only_policy = read_only(mapping.policy);
    MapResult refused{MapStatus::kOk, VirtAddr(), {}};
    for_each_ram_run(ranges, [&](const RamRun& run) {
        summary->ranges += run.ranges;
        const PhysAddr start = run.start < mapping.floor ? mapping.floor : run.start;
        if (run.end <= start) return true;
        if (mapping.pa_limit != 0 && run.end.value() > mapping.pa_limit) {  // the whole run, not only its start
            refused = refuse_beyond_the_region(mapping, run.start, run.end);
            return false;
        }
        MapStats in_run;
        const bool mapped_all = for_each_ram_piece(start, run.end, exceptions, [&](const RamPiece& piece) {
            if (piece.exception != nullptr) log_exception_piece(mapping, piece);
            const MappingPolicy* policy = piece_policy(piece, mapping.policy, read_only_policy);
            if (policy == nullptr) return true;  // left out
            const VirtAddr va(piece.start.value() + mapping.va_offset);
            const MapResult mapped = builder.map_range(va, piece.start, piece.end - piece.start, *policy);
            if (!mapped.ok()) {
                log_map_rejection(mapping.phase, "ram", va, piece.start, piece.end - piece.start, mapped);
                refused = mapped;
                return false;
            }
            in_run += mapped.mapped;
            return true;
        });
        if (!mapped_all) return false;
        ++summary->runs;
        klog::Line line = klog::info("paging");
        line.msg(mapping.run_event).kv("start", klog::hex(start)).kv("end", klog::hex(run.end));
        if (mapping.va_offset != 0) line.kv("va", klog::hex(start.value() + mapping.va_offset));
        page_counts(line, in_run);
        summary->stats += in_run;
        return true;
    });
    return refused.ok() ? MapResult{MapStatus::kOk, VirtAddr(mapping.floor.value() + mapping.va_offset), summary->stats}
                        : refused;
}
// book:end map-ram-runs

}  // namespace mm
