/* The kernel's first instructions.
 *
 * The loader jumps here with interrupts off, the bootstrap page tables in CR3,
 * RSP on a loader-owned stack and the handoff's physical address in RDI.
 * We move to the kernel's own stack at once, so nothing after this depends on
 * loader memory for the stack, and call into C++.
 */
    .cfi_sections .debug_frame          /* unwind info for GDB only (.eh_frame is discarded) */
    .section .text.entry, "ax", @progbits
    /* book:begin entry */
    .global _start
    .type _start, @function
_start:
    .cfi_startproc
    .cfi_undefined rip                 /* the outermost frame: GDB's backtrace ends here */
    cli
    cld
    lea __boot_stack_top(%rip), %rsp   /* 4 KiB aligned: after the call, rsp+8 is 16-byte aligned */
    xor %ebp, %ebp                     /* ends the frame-pointer chain for backtraces */
    call kernel_start                  /* never returns; RDI still holds the handoff */
1:  hlt
    jmp 1b
    .cfi_endproc
    .size _start, . - _start
    /* book:end entry */

    .section .note.GNU-stack, "", @progbits
