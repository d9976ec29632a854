#include "mm/kernel/fault_reports.h"

#include "arch/x86/cpu.h"
#include "kernel/early_cpu.h"
#include "mm/fault_decode.h"
#include "mm/kernel_stacks.h"
#include "mm/kernel/address_space.h"
#include "mm/kernel/linked_image.h"
#include "kernel/panic.h"
#include "kernel/recovery_point.h"
#include "support/log.h"

namespace mm {
namespace {

using kernel::TrapFrame;

constexpr uint64_t kDoubleFault = 8, kGeneralProtection = 13, kPageFault = 14;

FaultAddressMap g_map;       // built once by install_fault_reports
bool g_reporting = false;    // set while a report is being written
// PANIC: the report is the kernel's last word. ERROR when a recovery point is
// armed: the fault was asked for, and the kernel goes on.
klog::Level g_report_level = klog::Level::kPanic;

klog::Line panic_line() { return klog::Line(g_report_level, "fault"); }

const char* stack_name(uint64_t rsp) {
    const StackSpan* s = stack_of(VirtAddr(rsp), g_map);
    return s ? s->name : "other";
}

uint64_t current_rsp() {
    uint64_t rsp;
    asm volatile("mov %%rsp, %0" : "=r"(rsp));
    return rsp;
}

// The general registers in the instruction encoding's numbering (rax = 0 … r15 = 15).
void registers_of(const TrapFrame& f, uint64_t (&out)[16]) {
    const uint64_t regs[16] = {f.rax, f.rcx, f.rdx, f.rbx, f.rsp, f.rbp, f.rsi, f.rdi,
                               f.r8,  f.r9,  f.r10, f.r11, f.r12, f.r13, f.r14, f.r15};
    for (int i = 0; i < 16; ++i) out[i] = regs[i];
}

// The interrupted context: what the CPU pushed, and which stack the handler runs on.
void report_frame(const TrapFrame& f) {
    panic_line().msg("frame").kv("vector", f.vector).kv("name", kernel::exception_name(f.vector))
        .kv("error", klog::hex(f.error_code)).kv("rip", klog::hex(f.rip)).kv("cs", klog::hex(f.cs))
        .kv("rflags", klog::hex(f.rflags)).kv("rsp", klog::hex(f.rsp)).kv("ss", klog::hex(f.ss))
        .kv("rsp-stack", stack_name(f.rsp)).kv("handler-stack", stack_name(current_rsp()))
        .kv("cr2", klog::hex(x86::read_cr2())).kv("cr3", klog::hex(x86::read_cr3()));
    uint64_t regs[16];
    registers_of(f, regs);
    for (int first = 0; first < 16; first += 8) {
        klog::Line line = panic_line();
        line.msg("registers");
        for (int i = first; i < first + 8; ++i) line.kv(register_name(i), klog::hex(regs[i]));
    }
}

// book:begin report-page-fault
void report_page_fault(const TrapFrame& f) {
    const VirtAddr address(x86::read_cr2());
    const PageFaultError e = decode_page_fault_error(f.error_code);
    const FaultVerdict v = classify_page_fault(address, e, g_map);
    klog::Line line = panic_line();
    line.msg("page fault").kv("address", klog::hex(address)).kv("cause", fault_cause_name(v.cause))
        .kv("region", v.region);
    if (v.stack) line.kv("stack", v.stack);
    if (v.has_pa) line.kv("pa", klog::hex(v.pa));
    line.kv("access", access_name(e)).kv("present", e.present).kv("user", e.user).kv("rsvd", e.reserved_bit)
        .kv("pk", e.protection_key).kv("rip", klog::hex(f.rip)).kv("error", klog::hex(f.error_code));
}
// book:end report-page-fault

// book:begin report-general-protection
void report_general_protection(const TrapFrame& f) {
    klog::Line line = panic_line();
    line.msg("general protection").kv("error", klog::hex(f.error_code));
    if (f.error_code != 0) {  // a segment selector or IDT vector is to blame (SDM Vol. 3A, 6.13)
        line.kv("cause", "selector").kv("selector", klog::hex(f.error_code & ~uint64_t(7)))
            .kv("table", (f.error_code & 2) ? "idt" : (f.error_code & 4) ? "ldt" : "gdt").kv("rip", klog::hex(f.rip));
        return;
    }
    // The instruction is read only where it can be: inside the kernel's text.
    const VirtAddr rip(f.rip);
    MemoryOperand op;
    if (g_map.image.text_start <= rip && rip < g_map.image.text_end) {
        const uint64_t left = g_map.image.text_end - rip;
        op = decode_memory_operand(reinterpret_cast<const uint8_t*>(f.rip), left < 15 ? left : 15);
    }
    if (!op.ok) {
        line.kv("cause", "unknown").kv("operand", "not-decoded").kv("rip", klog::hex(f.rip));
        return;
    }
    uint64_t regs[16];
    registers_of(f, regs);
    const uint64_t address = effective_address(op, regs);
    const FaultVerdict v = classify_address(VirtAddr(address), g_map);
    line.kv("cause", v.cause == FaultCause::kUnknown ? "unknown" : fault_cause_name(v.cause))
        .kv("address", klog::hex(address)).kv("base", register_name(op.base));
    if (op.index >= 0) line.kv("index", register_name(op.index)).kv("scale", uint64_t(op.scale));
    line.kv("displacement", klog::hex(uint64_t(op.displacement))).kv("rip", klog::hex(f.rip));
}
// book:end report-general-protection

// book:begin report-double-fault
// A double fault's saved RIP is undefined and its error code always 0 (SDM
// Vol. 3A, 6.15 "Interrupt 8"): what tells most is where the interrupted RSP
// points, e.g. into a guard page when a stack overflowed.
void report_double_fault(const TrapFrame& f) {
    const FaultVerdict rsp = classify_address(VirtAddr(f.rsp), g_map);
    klog::Line line = panic_line();
    line.msg("double fault").kv("handler-stack", stack_name(current_rsp())).kv("rsp", klog::hex(f.rsp))
        .kv("rsp-region", rsp.region);
    if (rsp.cause != FaultCause::kUnknown) line.kv("rsp-cause", fault_cause_name(rsp.cause));
    line.kv("error", klog::hex(f.error_code)).kv("rip", klog::hex(f.rip));
}
// book:end report-double-fault

void report_exception(const TrapFrame& f) {
    panic_line().msg("exception").kv("name", kernel::exception_name(f.vector)).kv("vector", f.vector)
        .kv("error", klog::hex(f.error_code)).kv("rip", klog::hex(f.rip));
}

// book:begin on-trap
// Every stub ends here. A fault while reporting (a bug in the report, or a
// stack that is too small) gets one short line and stops, instead of
// starting a report on top of a report. A fault under a recovery point (a
// self-test that faults on purpose) gets the same report, then resumes there.
void on_trap(TrapFrame& f) {
    if (g_reporting) {
        klog::Line(klog::Level::kPanic, "fault").msg("fault while reporting a fault").kv("vector", f.vector)
            .kv("rip", klog::hex(f.rip)).kv("cr2", klog::hex(x86::read_cr2()));
        kernel::fail();
    }
    g_reporting = true;
    const bool expected = kernel::recovery_point_armed();
    g_report_level = expected ? klog::Level::kError : klog::Level::kPanic;
    switch (f.vector) {
        case kPageFault: report_page_fault(f); break;
        case kGeneralProtection: report_general_protection(f); break;
        case kDoubleFault: report_double_fault(f); break;
        default: report_exception(f); break;
    }
    report_frame(f);
    if (!expected) kernel::fail();
    kernel::resume_at_recovery_point(f);
    klog::warn("fault").msg("resuming at the recovery point").kv("rip", klog::hex(f.rip)).kv("rsp", klog::hex(f.rsp));
    g_reporting = false;
}
// book:end on-trap

}  // namespace

void install_fault_reports(const mm::MemoryRangeList& ranges) {
    g_map = make_fault_address_map(kernel::linked_image_layout(), &ranges);
    g_map.depth = running_paging_depth();  // 57-bit addresses are canonical at five levels (chapter 16)
    kernel::set_trap_handler(on_trap);
    klog::info("fault").msg("handlers").kv("vectors", uint64_t(kernel::kExceptionVectors))
        .kv("decoded", "page-fault,general-protection,double-fault").kv("stacks", uint64_t(g_map.stack_count));
}

}  // namespace mm
