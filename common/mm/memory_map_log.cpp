#include "mm/memory_map_log.h"

#include "support/log.h"

namespace mm {

// Column stops that keep the rows readable in a terminal.
namespace column {
constexpr size_t kType = 36, kStart = 60, kEnd = 84, kSize = 108, kTail = 124;
}

void log_descriptors(const MemoryDescriptorView& map) {
    for (auto it = map.begin(); it != map.end(); ++it) {
        const MemoryDescriptor d = *it;
        PhysAddr end;
        (void)d.end(&end);  // validated: cannot overflow
        klog::info("memmap").msg("descriptor").kv("index", uint64_t(it.index()))
            .pad(column::kType).kv("type", d.type_name())
            .pad(column::kStart).kv("start", klog::hex(d.physical_start()))
            .pad(column::kEnd).kv("end", klog::hex(end))
            .pad(column::kSize).kv("size", klog::size(end - d.physical_start()))
            .pad(column::kTail).kv("attributes", klog::hex(d.attributes()));
    }
}

void log_ranges(const MemoryRangeList& ranges) {
    for (const MemoryRange& r : ranges)
        klog::info("memmap").msg("range")
            .pad(column::kType).kv("kind", range_kind_name(r.kind))
            .pad(column::kStart).kv("start", klog::hex(r.start))
            .pad(column::kEnd).kv("end", klog::hex(r.end))
            .pad(column::kSize).kv("size", klog::size(r.size()))
            .pad(column::kTail).kv("class", range_class_name(range_class(r.kind)));
    for (size_t i = 0; i < ranges.set_aside_count(); ++i) log_set_aside(ranges.set_aside_at(i));
}

void log_set_aside(const SetAside& s) {
    // was=: the kinds the map had there, joined by '+' ("usable+reserved"), or
    // "undescribed" when the map does not list its addresses (a PCI BAR).
    char was[96];
    size_t length = 0;
    for (unsigned kind = 0; kind < 32; ++kind) {
        if ((s.was & (uint32_t(1) << kind)) == 0) continue;
        const Str name = range_kind_name(RangeKind(kind));
        if (length != 0 && length < sizeof(was)) was[length++] = '+';
        for (size_t c = 0; c < name.size() && length < sizeof(was); ++c) was[length++] = name[c];
    }
    klog::info("memmap").msg("set aside").kv("what", range_kind_name(s.kind)).kv("start", klog::hex(s.start))
        .kv("end", klog::hex(s.end)).kv("size", klog::size(s.end - s.start))
        .kv("was", length == 0 ? Str("undescribed") : Str(was, length)).kv("ram", klog::size(s.ram_bytes))
        .kv("reason", "mapped write-combining by its own phase only: never RAM, never handed out");
}

void log_totals(const MemoryRangeList& ranges) {
    klog::info("memmap").msg("totals")
        .kv("usable", klog::size(ranges.total_bytes(RangeClass::kUsable)))
        .kv("loader-owned", klog::size(ranges.total_bytes(RangeClass::kLoaderOwned)))
        .kv("firmware", klog::size(ranges.total_bytes(RangeClass::kFirmware)))
        .kv("reserved", klog::size(ranges.total_bytes(RangeClass::kReserved)))
        .kv("device", klog::size(ranges.total_bytes(RangeClass::kDevice)))
        .kv("ram", klog::size(ranges.ram_bytes()))
        .kv("ram-end", klog::hex(ranges.ram_end()))
        .kv("ranges", uint64_t(ranges.count()));
}

uint64_t log_refused_descriptors(const MemoryDescriptorView& map) {
    uint64_t refused = 0;
    for (auto it = map.begin(); it != map.end(); ++it) {
        const MemoryDescriptor d = *it;
        const DescriptorKind kind = classify_descriptor(d);
        if (kind.refusal == nullptr) continue;
        PhysAddr end;
        (void)d.end(&end);  // validated: cannot overflow
        klog::warn("memmap").msg("not ram").kv("index", uint64_t(it.index())).kv("type", klog::hex(d.type_code()))
            .kv("name", d.type_name()).kv("start", klog::hex(d.physical_start()))
            .kv("end", klog::hex(end)).kv("attributes", klog::hex(d.attributes()))
            .kv("kind", range_kind_name(kind.kind)).kv("rule", kind.refusal);
        ++refused;
    }
    return refused;
}

void log_rejection(const char* subsystem, const char* what, const Violation& v) {
    // One statement: the line is written when this expression ends, before
    // the caller's exit (see common/include/support/log.h).
    if (v.has_index())
        klog::error(subsystem).msg(what).msg("rejected").kv("field", v.field).kv("value", klog::hex(v.value))
            .kv("rule", v.rule).kv("index", v.index);
    else
        klog::error(subsystem).msg(what).msg("rejected").kv("field", v.field).kv("value", klog::hex(v.value))
            .kv("rule", v.rule);
}

}  // namespace mm
