#include "mm/kernel/vm_hold.h"

#include "arch/x86/cpu.h"
#include "kernel/kernel.h"
#include "support/log.h"

namespace mm {

void hold_with_usage_if_requested(const Process& p, ProcessMemory& m) {
    const CommandLine command_line = kernel::command_line();
    if (!command_line.has("hold") || command_line.value("vm.hold") != Str(p.name)) return;
    log_usage(p, m);
    klog::info("kernel").msg("holding for monitor").kv("pid", p.pid).kv("name", p.name)
        .kv("cr3", klog::hex(x86::read_cr3()));
    x86::halt_forever();
}

}  // namespace mm
