/* Entry stubs for the 32 exception vectors of the early IDT (early_cpu.cpp).
 *
 * The CPU pushes an error code for some vectors only (8, 10-14, 17, 21, 29, 30);
 * the others get a zero here, so every handler sees the same frame layout.
 * A handler either ends the kernel or points the frame at a recovery point
 * (recovery_point.h); in that case the stub restores the registers and IRETQ
 * goes there. An NMI is reported and returns to where it struck.
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
