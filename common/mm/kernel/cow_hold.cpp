#include "mm/kernel/cow_hold.h"

#include "arch/x86/cpu.h"
#include "kernel/kernel.h"
#include "mm/kernel/forking_processes.h"
#include "support/log.h"

namespace mm {

void hold_in_child_if_requested(const Task& t) {
    const CommandLine command_line = kernel::command_line();
    if (!command_line.has("hold") || command_line.value("cow.hold") != Str(t.process.name)) return;
    const Task* parent = find_task(t.parent);
    if (parent == nullptr || parent->state == TaskState::kZombie) return;  // the first process, or an orphan
    log_task_usage(*parent);
    log_task_usage(t);
    klog::info("kernel").msg("holding for monitor").kv("pid", t.process.pid).kv("name", t.process.name)
        .kv("cr3", klog::hex(x86::read_cr3())).kv("parent-pml4", klog::hex(parent->space.pml4()));
    x86::halt_forever();
}

}  // namespace mm
