// The handover trampoline's code (handover_trampoline.h explains when and why).
// Position-independent: it is copied into a page below 4 GiB and runs there.
//
// In: RDI = the TrampolineParams on the data page (below 4 GiB); interrupts off; the current tables
// map this page executable at its physical address, and so must the new ones.
// SDM Vol. 3A, 9.8.5 "Initializing IA-32e Mode" and 9.8.5.4 "Switching Out of
// IA-32e Mode Operation": paging can only be turned off from 32-bit code, and
// CR4.LA57 can only change while paging is off.
#include "boot/handover_trampoline_layout.h"

    .text
    .code64
    .globl handover_trampoline_code, handover_trampoline_long_mode, handover_trampoline_code_end
    .hidden handover_trampoline_code, handover_trampoline_long_mode, handover_trampoline_code_end
handover_trampoline_code:
    cli
    mov %rdi, %rbx                       // below 4 GiB: EBX still points at it in 32-bit code
    mov %rsp, PARAM_SAVED_RSP(%rbx)      // the upper halves of all registers are lost on the
    mov %rbp, PARAM_SAVED_RBP(%rbx)      //   way through 32-bit code (SDM Vol. 1, 3.4.1.1)
    mov %cr4, %rax
    mov %rax, %rcx
    and $CR4_LA57, %rcx
    cmp PARAM_LA57(%rbx), %rcx
    je .Lsame_depth                      // the usual case: a CR3 load and a global flush

    // A different depth: out of long mode and back in. Until paging is on
    // again no IDT fits the mode: an NMI here would reset the machine, a
    // window of a few instructions that Linux's trampoline_32bit shares.
    btr $CR4_PCIDE_BIT, %rax             // clearing CR0.PG with PCIDE set is #GP
    mov %rax, %cr4
    lgdt PARAM_GDTR(%rbx)
    mov $TRAMPOLINE_DATA_SELECTOR, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %fs                        // the firmware's selectors may lie past this GDT's end
    mov %eax, %gs
    mov %eax, %ss
    lea .Lcompat(%rip), %rax
    pushq $TRAMPOLINE_CODE32_SELECTOR
    pushq %rax
    lretq                                // into compatibility mode, same page

    .code32
.Lcompat:
    mov %cr0, %eax
    and $~CR0_PG, %eax
    mov %eax, %cr0                       // paging off: IA-32e mode is no longer active
    mov %cr4, %eax
    and $~CR4_LA57, %eax
    or PARAM_LA57(%ebx), %eax
    mov %eax, %cr4                       // the new depth
    mov PARAM_TOP_TABLE(%ebx), %eax
    mov %eax, %cr3
    mov %cr0, %eax
    or $CR0_PG, %eax
    mov %eax, %cr0                       // paging on: EFER.LME is still set, so IA-32e again
    ljmp *PARAM_FAR64(%ebx)              // a branch must follow; this one reloads CS as 64-bit

    .code64
handover_trampoline_long_mode:
    mov %ebx, %ebx                       // RBX's upper half is undefined after 32-bit code: zero it
    jmp .Lonward

.Lsame_depth:
    mov PARAM_TOP_TABLE(%rbx), %rax
    mov %rax, %cr3
    mov %cr4, %rax                       // a CR3 load keeps global translations (and those of
    xor $CR4_PGE, %rax                   //   other PCIDs): changing CR4.PGE, twice so it ends
    mov %rax, %cr4                       //   as it was, drops them all, so nothing the firmware
    xor $CR4_PGE, %rax                   //   mapped survives with its rights (SDM Vol. 3A,
    mov %rax, %cr4                       //   4.10.4.1); the trip above flushed all, paging off

.Lonward:
    mov PARAM_ENTRY(%rbx), %rax
    test %rax, %rax
    jz .Lreturn
    mov PARAM_STACK_TOP(%rbx), %rsp
    mov PARAM_ARGUMENT(%rbx), %rdi
    xor %ebp, %ebp
    jmp *%rax                            // into the kernel; never back

.Lreturn:
    mov PARAM_SAVED_RSP(%rbx), %rsp
    mov PARAM_SAVED_RBP(%rbx), %rbp
    ret
handover_trampoline_code_end:

    .section .note.GNU-stack, "", @progbits
