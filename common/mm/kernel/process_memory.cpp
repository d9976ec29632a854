#include "mm/kernel/process_memory.h"

#include "support/log.h"

namespace mm {
namespace {

ProcessMemory* g_memory = nullptr;

}  // namespace

ProcessMemory* current_memory() { return g_memory; }
void set_current_memory(ProcessMemory* memory) { g_memory = memory; }

// book:begin usage-line
void log_usage(const Process& p, ProcessMemory& m) {
    const UserRegion* stack = nullptr;
    for (size_t i = 0; i < m.regions.count(); ++i)
        if (m.regions[i].kind == RegionKind::kStack) stack = &m.regions[i];
    klog::Line line = klog::info("vm");
    line.msg("usage").kv("pid", p.pid).kv("name", p.name).kv("faults", m.served()).kv("zero-fill", m.zero_filled)
        .kv("file-copy", m.file_copied).kv("file-map", m.file_mapped).kv("stack-grown", m.stack_grown)
        .kv("pages", m.space.pages()).kv("borrowed", m.space.borrowed()).kv("tables", m.space.tables())
        .kv("frames", m.space.pages() + m.space.tables()).kv("regions", uint64_t(m.regions.count()));
    if (stack != nullptr) line.kv("stack-low", klog::hex(stack->start));
}
// book:end usage-line

}  // namespace mm
