#include "mm/kernel/user_hold.h"

#include "arch/x86/cpu.h"
#include "kernel/kernel.h"
#include "support/log.h"

namespace mm {

void hold_in_program_if_requested(const Process& process) {
    const CommandLine command_line = kernel::command_line();
    if (!command_line.has("hold") || command_line.value("user.hold") != Str(process.name)) return;
    klog::info("kernel").msg("holding for monitor").kv("pid", process.pid).kv("name", process.name)
        .kv("cr3", klog::hex(x86::read_cr3()));
    x86::halt_forever();
}

}  // namespace mm
