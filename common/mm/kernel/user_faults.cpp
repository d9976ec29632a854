#include "mm/kernel/user_faults.h"

#include "arch/x86/cpu.h"
#include "kernel/early_cpu.h"
#include "kernel/user_mode.h"
#include "mm/fault_decode.h"
#include "mm/kernel/processes.h"
#include "mm/user_layout.h"
#include "support/assert.h"
#include "support/log.h"

namespace mm {
namespace {

constexpr uint64_t kInvalidOpcode = 6, kGeneralProtection = 13, kPageFault = 14;

// What an exception other than #PF says about the program, in a sentence.
const char* exception_reason(uint64_t vector) {
    switch (vector) {
        case kInvalidOpcode: return "an undefined instruction";
        case kGeneralProtection: return "a privileged instruction, or a non-canonical address";
        default: return "the program raised an exception";
    }
}

kernel::TrapHandler g_kernel_faults = nullptr;  // chapter 10's reports

// book:begin user-fault
// One line: the rule the program broke, decoded from the error code and CR2
// for a page fault, the exception's name for anything else.
void report_user_fault(const kernel::TrapFrame& f, const Process& p) {
    klog::Line line = klog::warn("user");
    line.msg("killed").kv("pid", p.pid).kv("name", p.name);
    if (f.vector == kPageFault) {
        const VirtAddr address(x86::read_cr2());
        const PageFaultError e = decode_page_fault_error(f.error_code);
        const UserFaultRule rule = classify_user_page_fault(address, e);
        line.kv("rule", rule.rule).kv("addr", klog::hex(address)).kv("access", access_name(e)).kv("present", e.present)
            .kv("rip", klog::hex(f.rip)).kv("vector", f.vector).kv("why", rule.explanation);
    } else {
        line.kv("rule", kernel::exception_name(f.vector)).kv("rip", klog::hex(f.rip)).kv("vector", f.vector)
            .kv("error", klog::hex(f.error_code)).kv("why", exception_reason(f.vector));
    }
}

// A frame whose CS has RPL 3 came from the program: reported, and the program
// ends (leave_user abandons this handler's stack). Anything else is the
// kernel's own fault: chapter 10's report, and the end of the boot. So are an
// NMI, a double fault and a machine check whatever ring they interrupted:
// an NMI is not the program's doing (chapter 10's handler survives it), a
// #DF's saved CS is undefined (SDM Vol. 3A, 6.15, Interrupt 8), and a #MC
// is the machine's.
bool is_the_machines(uint64_t vector) { return vector == 2 || vector == 8 || vector == 18; }

void on_trap(kernel::TrapFrame& f) {
    const Process* p = current_process();
    if ((f.cs & 3) != 3 || p == nullptr || is_the_machines(f.vector)) {
        g_kernel_faults(f);
        return;
    }
    report_user_fault(f, *p);
    kernel::leave_user({kernel::UserEnd::kKilled, -1});
}
// book:end user-fault

}  // namespace

void install_user_fault_reports() {
    g_kernel_faults = kernel::set_trap_handler(on_trap);
    KASSERT(g_kernel_faults != nullptr);  // chapter 10's reports are installed first
}

}  // namespace mm
