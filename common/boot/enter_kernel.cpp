#include "boot/enter_kernel.h"

#include "arch/x86/cpu.h"

namespace boot {

void enter_kernel(uint64_t pml4, uint64_t stack_top, uint64_t entry, const BootHandoff* handoff) {
    x86::disable_interrupts();
    if (x86::cpu_has_nx()) x86::wrmsr(x86::kMsrEfer, x86::rdmsr(x86::kMsrEfer) | x86::kEferNoExecute);
    x86::write_cr0(x86::read_cr0() | x86::kCr0WriteProtect);

    // rsp = stack_top - 8 is what a `call` would leave: the SysV ABI has rsp+8
    // 16-byte aligned at a function's first instruction.
    asm volatile(
        "mov %0, %%cr3\n\t"
        "mov %1, %%rsp\n\t"
        "xor %%ebp, %%ebp\n\t"
        "jmp *%2"
        :
        : "r"(pml4), "r"(stack_top - 8), "r"(entry), "D"(handoff)
        : "memory");
    __builtin_unreachable();
}

}  // namespace boot
