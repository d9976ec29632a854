#include "kernel/user_mode.h"

#include "arch/x86/cpu.h"
#include "kernel/early_cpu.h"
#include "kernel/exception_tables.h"
#include "support/assert.h"
#include "support/log.h"

// Shared with the assembly below, hence C names. Globals, not per CPU (Linux
// keeps them at GS): one CPU at a time runs a program, also when chapter 15
// hands a program's turns to different CPUs (each turn is handed over with
// start_on() while the CPU that handed it waits), so one copy serves them.
extern "C" {
uint64_t g_user_kernel_rsp = 0;  // enter_user's frame: leave_user returns there; syscalls and ring-3 exceptions run below it
uint64_t g_user_saved_rsp = 0;   // the program's RSP during a system call
void user_mode_enter(const kernel::SyscallFrame* frame, uint64_t rax, uint64_t* rsp0);
[[noreturn]] void user_mode_return();
void user_syscall_entry();
int64_t user_syscall_dispatch(kernel::SyscallFrame* frame);
uint64_t user_copy_rep_movsb(void* to, const void* from, uint64_t bytes);
extern const char user_copy_fault_at[], user_copy_fixup[];
}

// book:begin user-entry-asm
// user_mode_enter: save what the C++ caller relies on (System V: rbx, rbp,
// r12-r15), remember the stack (leave_user comes back to it; TSS.RSP0 points
// the CPU at it for an exception in ring 3), then SYSRET to the program with
// every register from its SyscallFrame (zeroes for a program that has not
// run yet, so nothing of the kernel's leaks into ring 3) and RAX = the call's
// result: RIP from RCX, RFLAGS from R11, CS and SS from STAR. SWAPGS, last
// before SYSRET, trades GS's base for IA32_KERNEL_GS_BASE: in ring 3 the
// program's GS (it may load the register), the kernel's kept in the MSR until
// the next entry swaps it back. Chapter 15 keeps each CPU's data at GS's base;
// in chapters 12-14 both are 0 and nothing reads GS, so the swap changes
// nothing there.
asm(R"(
    .section .text, "ax", @progbits
    .global user_mode_enter
user_mode_enter:                        /* (const SyscallFrame* rdi, uint64_t rax in rsi, uint64_t* rsp0 in rdx) */
    cli                                 /* nothing may interrupt the program's RSP and GS below */
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    sub $8, %rsp                        /* 16-byte aligned, for the calls made below it */
    mov %rsp, g_user_kernel_rsp(%rip)
    mov %rsp, (%rdx)                    /* TSS.RSP0 */
    mov %rsi, %rax
    mov 0(%rdi), %r15
    mov 8(%rdi), %r14
    mov 16(%rdi), %r13
    mov 24(%rdi), %r12
    mov 32(%rdi), %rbp
    mov 40(%rdi), %rbx
    mov 48(%rdi), %r10
    mov 56(%rdi), %r9
    mov 64(%rdi), %r8
    mov 88(%rdi), %rsi
    mov 96(%rdi), %rdx
    mov 104(%rdi), %rcx                 /* RIP */
    mov 112(%rdi), %r11                 /* RFLAGS */
    mov 120(%rdi), %rsp                 /* the program's stack; nothing is pushed from here on */
    mov 80(%rdi), %rdi                  /* last: it held the frame */
    swapgs                              /* GS: the program's; the kernel's into IA32_KERNEL_GS_BASE */
    sysretq

    .global user_mode_return
user_mode_return:                       /* from a system call or a trap: their entry swapped GS back already */
    mov g_user_kernel_rsp(%rip), %rsp
    pushq $2                /* RFLAGS as after reset (bit 1 is always 1): no flag of the */
    popfq                   /*   program's, AC included, follows the kernel back */
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret                                 /* from user_mode_enter, to enter_user */
)");
// book:end user-entry-asm

// book:begin syscall-entry-asm
// SYSCALL lands here in ring 0 with the program's RSP and GS still loaded:
// RCX holds its return RIP, R11 its RFLAGS, and FMASK has cleared IF, DF, AC
// and TF. The stub takes the kernel's GS back first (SWAPGS), moves to the
// kernel stack, pushes a SyscallFrame of every register the program may
// expect back (a scheduler can then resume it later from the frame alone,
// chapter 14), and goes back with SWAPGS and SYSRET. RCX and R11 are the
// CPU's to clobber.
asm(R"(
    .section .text, "ax", @progbits
    .global user_syscall_entry
user_syscall_entry:
    swapgs                              /* GS: the kernel's; the program's into IA32_KERNEL_GS_BASE */
    mov %rsp, g_user_saved_rsp(%rip)
    mov g_user_kernel_rsp(%rip), %rsp
    pushq g_user_saved_rsp(%rip)        /* SyscallFrame, from its last field down */
    push %r11
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rax
    push %r8
    push %r9
    push %r10
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi                      /* SyscallFrame*; 16 pushes keep the stack 16-byte aligned */
    call user_syscall_dispatch          /* RAX: the result */
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    pop %r10
    pop %r9
    pop %r8
    add $8, %rsp                        /* the number */
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %r11
    pop %rsp                            /* the program's stack */
    swapgs                              /* the program's GS back, last thing in ring 0 */
    sysretq
)");
// book:end syscall-entry-asm

// book:begin user-copy-asm
// The one instruction that touches user memory on the kernel's behalf. If it
// faults, the fixup resumes right after it with RCX = the bytes left, which
// is also what it returns when it completes (RCX = 0).
asm(R"(
    .section .text, "ax", @progbits
    .global user_copy_rep_movsb
    .global user_copy_fault_at
    .global user_copy_fixup
user_copy_rep_movsb:
    mov %rdx, %rcx
user_copy_fault_at:
    rep movsb
user_copy_fixup:
    mov %rcx, %rax
    ret
)");
// book:end user-copy-asm

namespace kernel {
namespace {

constexpr uint32_t kMsrStar = 0xC000'0081, kMsrLstar = 0xC000'0082, kMsrCstar = 0xC000'0083, kMsrFmask = 0xC000'0084;
constexpr uint32_t kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176;
constexpr uint64_t kEferSyscallEnable = 1ull << 0;  // SCE
// RFLAGS bits SYSCALL clears (SDM Vol. 3A, 5.8.8). IF: no interrupt before
// the stub is on a kernel stack; DF: string instructions go up, as the ABI
// says; AC: SMAP stays on; TF: no single-step into the kernel; and every
// other flag a program could set (the arithmetic ones, IOPL, NT, RF, ID), as
// Linux clears them, so the kernel never runs on the program's flags.
constexpr uint64_t kFlagCf = 1ull << 0, kFlagPf = 1ull << 2, kFlagAf = 1ull << 4, kFlagZf = 1ull << 6,
                   kFlagSf = 1ull << 7, kFlagTf = 1ull << 8, kFlagIf = 1ull << 9, kFlagDf = 1ull << 10,
                   kFlagOf = 1ull << 11, kFlagIopl = 3ull << 12, kFlagNt = 1ull << 14, kFlagRf = 1ull << 16,
                   kFlagAc = 1ull << 18, kFlagId = 1ull << 21;
constexpr uint64_t kSyscallFlagMask = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagTf | kFlagIf | kFlagDf |
                                      kFlagOf | kFlagIopl | kFlagNt | kFlagRf | kFlagAc | kFlagId;
constexpr uint64_t kPageFaultVector = 14;
constexpr uint64_t kLowerHalfEnd = 1ull << 47;
// Why a return at or above kLowerHalfEnd is refused, for the kill line. At
// five levels such an RIP is canonical and SYSRET would not fault, but no
// user page lives there either: the same rule serves both depths.
constexpr const char* kSysretHazard =
    "SYSRET only returns below 2^47: at four levels an RIP there is non-canonical and SYSRET faults in ring 0, "
    "on the program's stack";

alignas(16) uint64_t g_gdt[kGdtEntries];

SyscallHandler g_syscall_handler = nullptr;
UserOutcome g_outcome{};
bool g_running = false;
bool g_smap = false;
uint64_t g_copy_fault_address = 0;

}  // namespace

// book:begin exception-table
// The exception table: each instruction allowed to fault on a user address,
// and where it resumes when it does (Linux keeps one such table, __ex_table,
// and searches it from its page-fault handler; ours has one entry).
struct ExceptionTableEntry {
    const char* fault_at;
    const char* fixup;
};
const ExceptionTableEntry kExceptionTable[] = {{user_copy_fault_at, user_copy_fixup}};

bool is_user_copy_instruction(uint64_t rip) {
    for (const ExceptionTableEntry& entry : kExceptionTable)
        if (rip == reinterpret_cast<uint64_t>(entry.fault_at)) return true;
    return false;
}

// The fixup hook (early_cpu.h): a page fault in ring 0 at a listed
// instruction resumes at its fixup, and the copy reports how far it got. Any
// other fault is not ours to excuse.
bool fix_up_user_access(TrapFrame& frame) {
    if ((frame.cs & 3) != 0 || frame.vector != kPageFaultVector) return false;
    // The user side's fault only: the copy's kernel buffer is in the upper
    // half, and a fault there is a kernel bug, not the program's pointer.
    if (x86::read_cr2() >= kLowerHalfEnd) return false;
    for (const ExceptionTableEntry& entry : kExceptionTable)
        if (frame.rip == reinterpret_cast<uint64_t>(entry.fault_at)) {
            g_copy_fault_address = x86::read_cr2();
            frame.rip = reinterpret_cast<uint64_t>(entry.fixup);
            return true;
        }
    return false;
}
// book:end exception-table

namespace {

void stac() { asm volatile("stac" ::: "memory", "cc"); }
void clac() { asm volatile("clac" ::: "memory", "cc"); }

}  // namespace

// book:begin install-user-mode
// The per-CPU half: every CPU that runs programs calls it on itself (MSRs are
// each CPU's own), after install_user_mode() has set up what the doors lead to.
void install_syscall_msrs() {
    KASSERT(g_syscall_handler != nullptr);  // install_user_mode() first: no door without a handler behind it
    // STAR[47:32]: SYSCALL's CS (SS = CS + 8); STAR[63:48]: SYSRET's base.
    x86::wrmsr(kMsrStar, uint64_t(kSysretBase) << 48 | uint64_t(kKernelCodeSelector) << 32);
    x86::wrmsr(kMsrLstar, reinterpret_cast<uint64_t>(user_syscall_entry));
    x86::wrmsr(kMsrFmask, kSyscallFlagMask);
    x86::wrmsr(x86::kMsrEfer, x86::rdmsr(x86::kMsrEfer) | kEferSyscallEnable);
    // The other doors into ring 0 closed: SYSENTER (valid in 64-bit mode on
    // Intel) with a null CS is #GP, which ends the program; CSTAR, SYSCALL
    // from 32-bit code, cannot be reached (no 32-bit user code segment).
    x86::wrmsr(kMsrSysenterCs, 0);
    x86::wrmsr(kMsrSysenterEsp, 0);
    x86::wrmsr(kMsrSysenterEip, 0);
    x86::wrmsr(kMsrCstar, 0);
    // The base a program's GS starts with: SWAPGS puts it in GS before SYSRET.
    x86::wrmsr(x86::kMsrKernelGsBase, 0);
}

void install_user_mode(SyscallHandler handler) {
    // Chapter 10's GDT, entries 0-4 as they are (the TSS descriptor busy:
    // TR keeps its cached copy, so no LTR), then the user segments.
    DescriptorTableRegister current{};
    asm volatile("sgdt %0" : "=m"(current));
    KASSERT(current.limit + 1 == 5 * sizeof(uint64_t));
    const auto* old = reinterpret_cast<const uint64_t*>(current.base);
    for (size_t i = 0; i < 5; ++i) g_gdt[i] = old[i];
    fill_user_segments(g_gdt);
    load_gdt({sizeof(g_gdt) - 1, reinterpret_cast<uint64_t>(g_gdt)});
    g_syscall_handler = handler;
    install_syscall_msrs();
    set_trap_fixup(fix_up_user_access);
    g_smap = (x86::read_cr4() & x86::kCr4Smap) != 0;
    // book:end install-user-mode

    const SyscallMsrs msrs = read_syscall_msrs();
    klog::info("cpu").msg("user segments").kv("gdt", klog::hex(reinterpret_cast<uint64_t>(g_gdt)))
        .kv("entries", uint64_t(kGdtEntries)).kv("user-cs", klog::hex(kUserCodeSelector))
        .kv("user-ss", klog::hex(kUserDataSelector)).kv("kernel-cs", klog::hex(kKernelCodeSelector));
    klog::info("cpu").msg("syscall").kv("star", klog::hex(msrs.star)).kv("lstar", klog::hex(msrs.lstar))
        .kv("fmask", klog::hex(msrs.fmask)).kv("sce", msrs.sce).kv("smap", g_smap)
        .kv("smep", (x86::read_cr4() & x86::kCr4Smep) != 0).kv("exception-table", uint64_t(1))
        .kv("sysenter-cs", klog::hex(x86::rdmsr(kMsrSysenterCs))).kv("cstar", klog::hex(x86::rdmsr(kMsrCstar)));
}

SyscallMsrs read_syscall_msrs() {
    return {x86::rdmsr(kMsrStar), x86::rdmsr(kMsrLstar), x86::rdmsr(kMsrFmask), x86::rdmsr(x86::kMsrKernelGsBase),
            (x86::rdmsr(x86::kMsrEfer) & kEferSyscallEnable) != 0};
}

UserOutcome enter_user(uint64_t entry, uint64_t stack_top) {
    KASSERT(stack_top % 16 == 0);
    SyscallFrame first{};  // every register zero
    first.rip = entry;
    first.rsp = stack_top;
    first.rflags = 0x2;  // IF off: no interrupt in ring 3; bit 1 is always 1
    static const FpuState initial = initial_fpu_state();
    load_fpu(initial);  // no x87 or SSE register of the program before
    return resume_user(first, 0);
}

UserOutcome resume_user(const SyscallFrame& registers, int64_t result) {
    KASSERT(!g_running && g_syscall_handler != nullptr);
    // This CPU's SYSCALL goes to the stub: install_syscall_msrs() ran here.
    KASSERT(x86::rdmsr(kMsrLstar) == reinterpret_cast<uint64_t>(user_syscall_entry));
    if (registers.rip >= kLowerHalfEnd) {  // the SYSRET hazard, as user_syscall_dispatch refuses it
        klog::warn("user").msg("killed").kv("rule", "sysret-non-canonical-rip").kv("rip", klog::hex(registers.rip))
            .kv("why", kSysretHazard);
        return {UserEnd::kKilled, -1};
    }
    g_running = true;
    user_mode_enter(&registers, uint64_t(result), tss_rsp0_slot());
    g_running = false;
    return g_outcome;
}

FpuState initial_fpu_state() {
    FpuState state{};
    state.image[0] = 0x7F;  // FCW 0x037F: every x87 exception masked, 64-bit precision, round to nearest
    state.image[1] = 0x03;
    state.image[24] = 0x80;  // MXCSR 0x1F80: every SSE exception masked, round to nearest
    state.image[25] = 0x1F;
    return state;
}

void save_fpu(FpuState& state) { asm volatile("fxsave64 %0" : "=m"(state)); }
void load_fpu(const FpuState& state) { asm volatile("fxrstor64 %0" : : "m"(state)); }

void fill_user_segments(uint64_t (&gdt)[kGdtEntries]) {
    gdt[kSysretBase / 8] = kNullDescriptor;  // a SYSRET to 32-bit code would load it: there is none
    gdt[(kUserDataSelector & ~3) / 8] = kUserDataDescriptor;
    gdt[(kUserCodeSelector & ~3) / 8] = kUserCode64Descriptor;
}

UserSegments save_user_segments() {
    UserSegments s;
    asm volatile("mov %%fs, %0; mov %%gs, %1" : "=r"(s.fs), "=r"(s.gs));
    return s;
}

void load_user_segments(const UserSegments& s) {
    KASSERT((x86::read_rflags() & x86::kRflagsInterrupt) == 0);  // GS's base is the descriptor's in between
    const uint64_t kernel_gs_base = x86::rdmsr(x86::kMsrGsBase);
    asm volatile("mov %0, %%fs; mov %1, %%gs" : : "r"(s.fs), "r"(s.gs) : "memory");
    x86::wrmsr(x86::kMsrGsBase, kernel_gs_base);  // the selector load set it to the descriptor's
}

void leave_user(UserOutcome outcome) {
    KASSERT(g_running);
    // An exception from ring 3 does not clear AC, and a program may have set
    // it: clear it, or SMAP would stay lifted in the kernel from here on.
    if (g_smap) clac();
    g_outcome = outcome;
    user_mode_return();
}

void suspend_user(const SyscallFrame& frame, int64_t result) {
    leave_user({UserEnd::kSuspended, result, frame});
}

// book:begin copy-user-bytes
uint64_t copy_user_bytes(void* to, const void* from, uint64_t bytes, uint64_t* fault_address) {
    g_copy_fault_address = 0;
    if (g_smap) stac();  // user pages readable and writable by the kernel ...
    const uint64_t left = user_copy_rep_movsb(to, from, bytes);
    if (g_smap) clac();  // ... for this one instruction only
    if (left != 0) *fault_address = g_copy_fault_address;
    return left;
}
// book:end copy-user-bytes

}  // namespace kernel

// book:begin syscall-dispatch
// Called by the entry stub. The SYSRET hazard (SDM Vol. 2B, SYSRET: "If the
// return is to 64-bit mode, ... RCX must be canonical; otherwise #GP", and on
// Intel CPUs that #GP is taken in ring 0 on the program's stack, and after the
// SWAPGS, with the program's GS): SYSRET only
// goes back to a lower-half canonical RIP. The kernel never maps a user page
// at the top of the lower half, so no SYSCALL can be followed by such an
// address; should one be, the program is ended instead of returned to.
extern "C" int64_t user_syscall_dispatch(kernel::SyscallFrame* frame) {
    const int64_t result = kernel::g_syscall_handler(*frame);
    if (frame->rip >= (uint64_t(1) << 47)) {
        klog::warn("user").msg("killed").kv("rule", "sysret-non-canonical-rip").kv("rip", klog::hex(frame->rip))
            .kv("why", kernel::kSysretHazard);
        kernel::leave_user({kernel::UserEnd::kKilled, -1});
    }
    return result;
}
// book:end syscall-dispatch
