/* The two halves of a recovery point (recovery_point.h).
 *
 * bool recovery_point_call(void (*body)(void*) [rdi], void* context [rsi])
 *
 * Saves the callee-saved registers on the stack, records that stack pointer,
 * the flags and the landing address in the recovery point, and calls body.
 * Returns 1 when body returns. When body faults, the trap handler's IRETQ
 * comes to recovery_point_landing instead, with RSP back at the recorded
 * value, and it returns 0. Either way the same pops restore what the caller
 * may rely on (System V ABI: rbx, rbp, r12-r15).
 */
    .section .text, "ax", @progbits
    .global recovery_point_call
    .global recovery_point_landing
recovery_point_call:
    push %rbp
    mov %rsp, %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    sub $8, %rsp                            /* 16-byte aligned at the call below */
    mov %rsp, g_recovery_point_rsp(%rip)
    pushfq
    popq g_recovery_point_rflags(%rip)
    lea recovery_point_landing(%rip), %rax
    mov %rax, g_recovery_point_rip(%rip)    /* armed: non-zero */
    mov %rdi, %rax
    mov %rsi, %rdi
    call *%rax
    movq $0, g_recovery_point_rip(%rip)     /* disarmed: body returned */
    mov $1, %eax
    jmp 1f
recovery_point_landing:
    xor %eax, %eax                          /* resumed by the trap handler */
1:  add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    .section .note.GNU-stack, "", @progbits
