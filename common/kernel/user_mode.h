// Ring 3 (chapter 12): the CPU plumbing for running a program and coming back.
//
//  - the GDT grows user code and data segments, in the order SYSRET needs
//    them (SDM Vol. 2B, SYSRET: CS = STAR[63:48] + 16, SS = STAR[63:48] + 8);
//  - SYSCALL enters the kernel at one entry point: STAR holds the selectors,
//    LSTAR the entry, FMASK the flags to clear (IF, DF, AC, TF), EFER.SCE
//    turns the instructions on (SDM Vol. 3A, 5.8.8 "Fast System Calls in
//    64-Bit Mode");
//  - enter_user() runs a program until it ends: its exit call, or a fault the
//    kernel kills it for, both of which come back through leave_user();
//  - the user copy: the few instructions that may touch a user pointer, each
//    with a fixup in an exception table, so a bad pointer is an error return
//    and not a kernel fault, and with SMAP lifted (STAC) only around them.
//
// A runtime module that chapter 12 declares (CHAPTER_NEW_RUNTIME). What a
// user pointer may be, what a system call does and what a fault in ring 3 is
// are the memory library's knowledge (mm/kernel/processes.h): it reaches this
// file through install_user_mode()'s handler, as the fault reports reach the
// stubs through set_trap_handler.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kernel {

// book:begin user-selectors
// GDT entries 5-7, after chapter 10's null, code, data and the 16-byte TSS.
inline constexpr uint16_t kSysretBase = 0x28;                   // STAR[63:48]: entry 5, a 32-bit user code slot left null
inline constexpr uint16_t kUserDataSelector = kSysretBase + 8 + 3;   // 0x33: entry 6, RPL 3
inline constexpr uint16_t kUserCodeSelector = kSysretBase + 16 + 3;  // 0x3b: entry 7, RPL 3
inline constexpr uint64_t kUserCode64Descriptor = 0x00AF'FB00'0000'FFFFull;  // P, DPL3, code exec/read, accessed, L=1
inline constexpr uint64_t kUserDataDescriptor = 0x00CF'F300'0000'FFFFull;    // P, DPL3, data read/write, accessed
// book:end user-selectors
inline constexpr size_t kGdtEntries = 8;  // chapter 10's five, then the SYSRET base slot, user data, user code

// Entries 5-7 of a GDT laid out as above: the BSP's (install_user_mode) and
// each AP's (chapter 15) get the same user segments at the same selectors.
void fill_user_segments(uint64_t (&gdt)[kGdtEntries]);

// What the entry stub saved of the program at a SYSCALL: every register
// the program may expect back (RCX and R11 are the CPU's: SYSCALL put the
// return RIP and RFLAGS there), the call and its arguments, and where SYSRET
// goes back to. Lowest address first, as the stub pushes it.
struct SyscallFrame {
    uint64_t r15, r14, r13, r12, rbp, rbx;  // callee-saved: kept by the handler, saved for a switch (chapter 14)
    uint64_t r10, r9, r8;      // the other argument registers, kept for the program
    uint64_t number;           // RAX
    uint64_t arg[3];           // RDI, RSI, RDX
    uint64_t rip;              // RCX: the instruction after SYSCALL
    uint64_t rflags;           // R11
    uint64_t rsp;              // the program's stack pointer
};
static_assert(sizeof(SyscallFrame) == 16 * 8, "the entry stub pushes 16 registers");

// The memory library's system calls: returns RAX for the program, or does not
// return (exit, a kill: leave_user()).
using SyscallHandler = int64_t (*)(SyscallFrame& frame);

// Loads the GDT with the user segments, sets STAR, LSTAR, FMASK and EFER.SCE
// (install_syscall_msrs), and installs the exception table's fixup hook.
// Logs one line each:
//   [INFO  cpu] user segments gdt-entries=8 user-cs=0x3b user-ss=0x33 …
//   [INFO  cpu] syscall star=0x… lstar=0x… fmask=0x… sce=yes
void install_user_mode(SyscallHandler handler);

// The per-CPU half of install_user_mode(): MSRs are each CPU's own, so a CPU
// other than the one that installed user mode calls this on itself before it
// runs a program (chapter 15, mm/kernel/cpu_startup.h). STAR, LSTAR, FMASK,
// EFER.SCE, the SYSENTER and CSTAR doors closed, and IA32_KERNEL_GS_BASE = 0:
// what GS.base becomes at the SWAPGS into ring 3, so no program finds a kernel
// address there. Only after install_user_mode() (asserted).
void install_syscall_msrs();

// What install_syscall_msrs() left on the CPU that reads them, for the logs.
struct SyscallMsrs {
    uint64_t star, lstar, fmask, kernel_gs_base;
    bool sce;
};
SyscallMsrs read_syscall_msrs();

// How a program's run ended.
enum class UserEnd : uint8_t {
    kExit,
    kKilled,
    kSuspended,  // a system call let another program run (chapter 14): `registers` resumes it
};
struct UserOutcome {
    UserEnd end;
    int64_t code;  // exit: the program's code; killed: what leave_user was given; suspended: the call's result
    SyscallFrame registers{};  // suspended: the program as it made the call
};

// Runs ring-3 code at `entry` on `stack_top` (16-byte aligned), with the
// process's tables already in CR3, until leave_user() or suspend_user().
// While it runs, the kernel stack below this call is where its system calls
// and its exceptions land (TSS.RSP0 of this CPU, tss_rsp0_slot()).
// Interrupts stay off, from the entry on (it returns with IF clear): a
// program cannot set IF, and no interrupt may arrive between the SWAPGS and
// the SYSRET into ring 3. On any CPU that ran install_syscall_msrs()
// (asserted), one CPU at a time (the stubs keep their stack pointers in
// globals, user_mode.cpp). It starts with every register zero, x87 and SSE
// ones included (load_fpu(initial_fpu_state())), so nothing of the last
// program's leaks.
UserOutcome enter_user(uint64_t entry, uint64_t stack_top);

// Runs a program again from where suspend_user() left it: every general
// register as `registers` holds it (the ones SYSCALL saved), RAX = `result`,
// as if its system call had just returned. One path with enter_user(), which
// resumes a program that has not run yet: zeroes, its entry and its stack.
// A saved RIP that is not a canonical lower-half address (only a kernel bug
// or a test hook can make one) is not returned to: the program is killed, by
// the rule user_syscall_dispatch keeps (the SYSRET hazard).
UserOutcome resume_user(const SyscallFrame& registers, int64_t result);

// A program's x87, MMX and SSE registers, as FXSAVE stores them (SDM Vol. 1,
// 10.5.1, the 512-byte FXSAVE area). The kernel itself never touches them
// (it is built with -mgeneral-regs-only), so a program's state stays in the
// CPU through its system calls and faults; only a switch to another program
// must save it and load the next one's (chapter 14's scheduler).
struct alignas(16) FpuState {
    uint8_t image[512];
};
// The state FNINIT and a reset give: FCW 0x037F, MXCSR 0x1F80, every data
// register zero.
FpuState initial_fpu_state();
void save_fpu(FpuState& state);        // FXSAVE64
void load_fpu(const FpuState& state);  // FXRSTOR64

// The selectors a program may have loaded into FS and GS, the two segment
// registers 64-bit code can still use. SYSCALL and SYSRET leave them alone,
// so they stay in the CPU through a program's system calls; a switch to
// another program, or to another CPU (chapter 15), must keep them with the
// program. Their bases are 0: every descriptor of the GDT has base 0, and a
// program cannot write a base itself (CR4.FSGSBASE is off).
struct UserSegments {
    uint16_t fs = 0, gs = 0;
};
UserSegments save_user_segments();
// Loads them in ring 0, keeping GS's base the kernel's (a selector load
// would set it to the descriptor's 0). Interrupts off.
void load_user_segments(const UserSegments& segments);

// Ends the running program and returns from enter_user() with `outcome`,
// from a system call or from a trap handler; whatever stack it is called on
// is abandoned. Only while enter_user() runs.
[[noreturn]] void leave_user(UserOutcome outcome);

// Stops the running program at its system call `frame` and returns from
// enter_user()/resume_user() with kSuspended, `result` and its registers:
// the caller may run another program and resume this one later (chapter 14's
// scheduler). Only from a system call.
[[noreturn]] void suspend_user(const SyscallFrame& frame, int64_t result);

// The exception table's fixup hook, which install_user_mode() installs: a
// page fault in ring 0 at a listed instruction resumes at its fixup (true).
// Public so that a hook in front of it can pass on what it does not handle
// (chapter 13's first touch, mm/kernel/demand_faults.h).
struct TrapFrame;  // kernel/early_cpu.h
bool fix_up_user_access(TrapFrame& frame);

// Whether `rip` is an instruction the exception table lists: the one place
// the kernel reads or writes user memory.
bool is_user_copy_instruction(uint64_t rip);

// book:begin user-copy-api
// Copies `bytes` between kernel memory and a user address that the caller has
// checked lies below the user limit; a page fault on the user side ends the
// copy early instead of the kernel. Returns the bytes that were NOT copied
// (0: all of them), and on a fault sets *fault_address to CR2.
uint64_t copy_user_bytes(void* to, const void* from, uint64_t bytes, uint64_t* fault_address);
// book:end user-copy-api

}  // namespace kernel
