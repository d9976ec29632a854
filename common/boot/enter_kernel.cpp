#include "boot/enter_kernel.h"

#include "arch/x86/cpu.h"
#include "boot/paging_mode.h"
#include "support/log.h"

namespace boot {

void enter_kernel(const HandoverTrampoline& trampoline, const PagingHandover& paging, uint64_t stack_top,
                  uint64_t entry, const BootHandoff* handoff) {
    x86::disable_interrupts();
    if (x86::cpu_has_nx()) x86::wrmsr(x86::kMsrEfer, x86::rdmsr(x86::kMsrEfer) | x86::kEferNoExecute);
    x86::write_cr0(x86::read_cr0() | x86::kCr0WriteProtect);
    if (paging_levels(x86::read_cr4()) == 5 && !paging.la57)
        klog::info("loader").msg("leaving 5-level paging").kv("via", "trampoline").kv("trampoline", klog::hex(trampoline.page))
            .kv("pml4", klog::hex(paging.top_table));
    else if (paging_levels(x86::read_cr4()) == 4 && paging.la57)
        klog::info("loader").msg("entering 5-level paging").kv("via", "trampoline").kv("trampoline", klog::hex(trampoline.page))
            .kv("pml5", klog::hex(paging.top_table));
    jump_through(trampoline, paging.top_table, paging.la57, stack_top, entry, handoff);
}

}  // namespace boot
