#include "mm/kernel/demand_faults.h"

#include "arch/x86/cpu.h"
#include "kernel/early_cpu.h"
#include "kernel/user_mode.h"
#include "mm/fault_decode.h"
#include "mm/kernel/processes.h"
#include "mm/phys_window.h"
#include "support/assert.h"
#include "support/log.h"

namespace mm {
namespace {

constexpr uint64_t kPageFault = 14;

}  // namespace

// book:begin serve-page
bool serve_page(ProcessMemory& m, const FaultDecision& d) {
    KASSERT(d.action != FaultAction::kRefuse);
    if (d.grow_stack_to != 0) {
        const UserRegion* stack = m.regions.stack_growing_to(d.grow_stack_to);
        KASSERT(stack != nullptr);
        m.regions.grow_stack(stack->start, d.grow_stack_to);
        ++m.stack_grown;
    }
    const uint64_t offset = d.page - d.region.start;  // into the region
    const uint64_t flags = region_leaf_flags(d.region.rights);
    if (d.action == FaultAction::kFileMap) {  // text: the module's frame, read-only, borrowed
        KASSERT(d.region.text && offset < d.region.file_bytes + kPageSize);  // decide_fault kept it in the file
        if (m.owner.map_fresh(m.space, VirtAddr(d.page), m.module + d.region.file_offset + offset,
                              flags | user_flags::kBorrowed) != UserMapStatus::kOk)
            return false;
        ++m.file_mapped;
        return true;
    }
    const FrameResult frame = m.frames.alloc_frame();
    if (!frame.ok()) return false;
    uint8_t* bytes = phys_to_pointer<uint8_t>(frame.frame());
    __builtin_memset(bytes, 0, kPageSize);
    if (d.action == FaultAction::kFileCopy && offset < d.region.file_bytes) {
        const uint64_t n = d.region.file_bytes - offset < kPageSize ? d.region.file_bytes - offset : kPageSize;
        __builtin_memcpy(bytes, phys_to_pointer<const uint8_t>(m.module + d.region.file_offset + offset), n);
    }
    if (m.owner.map_fresh(m.space, VirtAddr(d.page), frame.frame(), flags) != UserMapStatus::kOk) {
        (void)m.frames.free(frame.frame());  // never mapped: still ours to give back
        return false;
    }
    ++(d.action == FaultAction::kFileCopy ? m.file_copied : m.zero_filled);
    return true;
}
// book:end serve-page

namespace {

// book:begin first-touch
[[noreturn]] void kill(const kernel::TrapFrame& f, const Process& p, VirtAddr address, const PageFaultError& e,
                       const UserFaultRule& rule) {
    {  // chapter 12's keys (user_faults.h): the line is written at the end of this scope
        klog::Line line = klog::warn("user");
        line.msg("killed").kv("pid", p.pid).kv("name", p.name).kv("rule", rule.rule).kv("addr", klog::hex(address))
            .kv("access", access_name(e)).kv("present", e.present).kv("rip", klog::hex(f.rip)).kv("vector", f.vector)
            .kv("why", rule.explanation);
    }
    kernel::leave_user({kernel::UserEnd::kKilled, -1});
}

bool first_touch(kernel::TrapFrame& f) {
    ProcessMemory* m = current_memory();
    const Process* p = current_process();
    const VirtAddr address(x86::read_cr2());
    if (f.vector != kPageFault || m == nullptr || p == nullptr || address >= kUserLimit)
        return kernel::fix_up_user_access(f);
    const PageFaultError e = decode_page_fault_error(f.error_code);
    const bool from_user = (f.cs & 3) == 3;
    // From ring 0, only the user copy may touch a user page, and never to
    // fetch an instruction: anything else is the kernel's own bug (SMEP and
    // SMAP catch it where the CPU has them; this catches it everywhere), and
    // chapter 10's report ends the boot.
    if (!from_user && (e.instruction_fetch || !kernel::is_user_copy_instruction(f.rip))) return false;
    const FaultDecision d = decide_fault(m->regions, address, e);
    if (d.action != FaultAction::kRefuse) {
        if (serve_page(*m, d)) return true;  // the instruction runs again, and finds the page
        if (from_user) kill(f, *p, address, e, {"out-of-memory", "no frame left for the page or its tables"});
        return kernel::fix_up_user_access(f);
    }
    // The tables and the regions disagree: not the program's doing, and
    // nothing later could be trusted. Chapter 10's report ends the boot.
    if (d.kernel_bug) return false;
    if (from_user) kill(f, *p, address, e, d.refusal);
    return kernel::fix_up_user_access(f);  // the copy ends: user-pointer-fault
}
// book:end first-touch

}  // namespace

void install_first_touch() {
    kernel::set_trap_fixup(first_touch);  // in place of chapter 12's table, which it calls for the rest
}

}  // namespace mm
