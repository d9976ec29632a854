/* crt0: where every user program starts (e_entry = _start).
 *
 * The kernel enters here in ring 3 with RSP at the top of the program's
 * stack (16-byte aligned) and every other register zero. _start makes the
 * frame the ABI expects at a call (RBP = 0 ends a backtrace), calls main,
 * and hands main's result to exit (abi/syscalls.h), which does not return.
 */
    .section .text.start, "ax", @progbits
    .global _start
_start:
    xor %ebp, %ebp
    call main
    mov %eax, %edi          /* exit(main()) */
    movslq %edi, %rdi
    mov $2, %eax            /* abi::Syscall::kExit */
    syscall
    ud2                     /* exit does not return */

    .section .note.GNU-stack, "", @progbits
