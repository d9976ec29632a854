/* Entry stubs for the 32 exception vectors of the early IDT (early_cpu.cpp).
 *
 * The CPU pushes an error code for some vectors only (8, 10-14, 17, 21, 29, 30);
 * the others get a zero here, so every handler sees the same frame layout.
 * A handler either ends the kernel or points the frame at a recovery point
 * (recovery_point.h); in that case the stub restores the registers and IRETQ
 * goes there. An NMI is reported and returns to where it struck.
 *
 * GS (chapter 12 on): in ring 0 GS's base is the kernel's (chapter 15 keeps
 * each CPU's data there), in ring 3 it is the program's and the kernel's
 * waits in IA32_KERNEL_GS_BASE, as SYSCALL/SYSRET keep it (user_mode.cpp).
 * So a trap from ring 3 (the saved CS has RPL 3) swaps on entry, and the
 * IRETQ to ring 3 swaps back; one from ring 0 finds GS right. The saved CS
 * cannot tell one case: an NMI or #MC (they use IST stacks and take any
 * instruction boundary) between SYSCALL and its SWAPGS, or between the
 * SWAPGS and SYSRET, comes from ring 0 with the program's GS. Linux's
 * "paranoid" entry reads IA32_GS_BASE for those. Here the NMI handler only
 * logs and returns, and a #MC report ends the kernel; neither reads GS
 * (this_cpu()), and no other exception can strike in those windows (RIP-
 * relative kernel data, TF cleared by FMASK, and SYSRET's #GP ruled out by
 * the canonical-RIP check before it), so the CS test suffices. The
 * IPI stubs (mm/kernel/cpu_interrupts.cpp) swap nothing: IF is clear in
 * ring 3 (a program cannot set it) and from user_mode_enter's CLI on.
 * In chapters 12-14 both bases are 0: the swaps change nothing there.
 */
    .section .text, "ax", @progbits

.macro TRAP_STUB vector
trap_stub_\vector:
    .if (\vector == 8) || (\vector >= 10 && \vector <= 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp trap_common
.endm

trap_common:
    testb $3, 24(%rsp)      /* the interrupted CS (above vector, error code, RIP): RPL 3 is ring 3 */
    jz 1f
    swapgs                  /* the kernel's GS; the program's into IA32_KERNEL_GS_BASE */
1:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld                     /* the ABI wants DF clear at a call; a fault inside memmove's
                               backwards copy arrives with DF set (IRETQ restores it) */
    pushfq                  /* and AC clear: delivery keeps it (SDM Vol. 3A, 6.12), a program
                               may set it with POPF, a fault in a user copy arrives during
                               STAC, and with AC set SMAP is off for the whole trap path */
    andq $~(1 << 18), (%rsp)  /* (IRETQ restores the interrupted AC) */
    popfq
    mov %rsp, %rbx          /* the TrapFrame, kept across the call (rbx is callee-saved) */
    mov %rsp, %rdi          /* TrapFrame* */
    and $-16, %rsp          /* the ABI wants a 16-byte aligned stack at the call */
    call early_trap         /* reports and exits; returns after an NMI or to resume at a recovery point */
    mov %rbx, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp           /* vector and error code */
    testb $3, 8(%rsp)       /* the CS IRETQ loads (a handler may have changed the frame): */
    jz 2f
    swapgs                  /*   back to ring 3 with the program's GS */
2:
    iretq                   /* to the frame's RIP and RSP: the recovery point, or where the NMI struck */

.altmacro
.macro EMIT_STUBS from=0, to=31
    TRAP_STUB %(\from)
    .if \to-\from
    EMIT_STUBS %(\from+1), \to
    .endif
.endm
EMIT_STUBS 0, 31

.macro STUB_ADDRESS vector
    .quad trap_stub_\vector
.endm
.macro EMIT_TABLE from=0, to=31
    STUB_ADDRESS %(\from)
    .if \to-\from
    EMIT_TABLE %(\from+1), \to
    .endif
.endm

    .section .rodata, "a", @progbits
    .global early_trap_stubs
    .balign 8
early_trap_stubs:
    EMIT_TABLE 0, 31

    .section .note.GNU-stack, "", @progbits
