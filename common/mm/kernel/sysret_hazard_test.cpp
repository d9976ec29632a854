#include "mm/kernel/sysret_hazard_test.h"

#include "kernel/kernel.h"
#include "support/log.h"

namespace mm {

void damage_sysret_rip_if_requested(const Process& process, kernel::SyscallFrame& frame) {
    static uint64_t damaged_pid = 0;  // once per program: its first system call
    if (kernel::command_line().value("test.sysret-rip") != Str(process.name) || damaged_pid == process.pid) return;
    damaged_pid = process.pid;
    frame.rip = uint64_t(1) << 47;  // the first non-canonical address above the lower half
    klog::warn("test").msg("sysret rip damaged on request").kv("pid", process.pid).kv("name", process.name)
        .kv("rip", klog::hex(frame.rip));
}

}  // namespace mm
