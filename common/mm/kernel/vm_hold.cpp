#include "mm/kernel/vm_hold.h"

#include "arch/x86/cpu.h"
#include "kernel/kernel.h"
#include "support/log.h"

namespace mm {

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

void hold_with_usage_if_requested(const Process& p, ProcessMemory& m) {
    const CommandLine command_line = kernel::command_line();
    if (!command_line.has("hold") || command_line.value("vm.hold") != Str(p.name)) return;
    log_usage(p, m);
    klog::info("kernel").msg("holding for monitor").kv("pid", p.pid).kv("name", p.name)
        .kv("cr3", klog::hex(x86::read_cr3()));
    x86::halt_forever();
}

}  // namespace mm
