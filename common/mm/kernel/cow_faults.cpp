#include "mm/kernel/cow_faults.h"

#include "arch/x86/cpu.h"
#include "kernel/early_cpu.h"
#include "kernel/user_mode.h"
#include "mm/cow_write_fault.h"
#include "mm/fault_decode.h"
#include "mm/kernel/frame_counts.h"
#include "mm/kernel/scheduler.h"
#include "mm/phys_window.h"
#include "mm/user_layout.h"
#include "support/assert.h"
#include "support/log.h"

namespace mm {
namespace {

constexpr uint64_t kPageFault = 14;
kernel::TrapFixup g_first_touch = nullptr;

// book:begin cow-fault
// A write that copy-on-write explains: a present page, written, from the
// program or from the kernel's user copy, in a region the program may write.
bool is_copy_on_write_candidate(const kernel::TrapFrame& f, const Task& t, VirtAddr address) {
    const PageFaultError e = decode_page_fault_error(f.error_code);
    if (!e.present || !e.write || e.instruction_fetch) return false;
    if ((f.cs & 3) != 3 && !kernel::is_user_copy_instruction(f.rip)) return false;
    const UserRegion* region = t.memory.regions.find(address.value());
    return region != nullptr && (region->rights & region_rights::kWrite);
}

bool copy_on_write_fault(kernel::TrapFrame& f) {
    Task* t = current_task();
    const VirtAddr address(x86::read_cr2());
    if (f.vector != kPageFault || t == nullptr || address >= kUserLimit || !is_copy_on_write_candidate(f, *t, address))
        return g_first_touch(f);
    PhysWindowMemory tables;
    CowWriteResult r = resolve_cow_write(t->space, address, tables, frame_counts(), t->memory.frames, t->memory.tlb);
    switch (r.outcome()) {
        case CowWriteOutcome::kCopied:
        case CowWriteOutcome::kTakenOver: {
            r.take_flush().flush();  // the read-only translation goes before the write runs again
            const bool copied = r.outcome() == CowWriteOutcome::kCopied;
            ++(copied ? t->copied : t->taken_over);
            klog::Line line = klog::info("cow");
            line.msg(copied ? "copied" : "taken-over").kv("pid", t->process.pid).kv("va", klog::hex(address.page_base()));
            if (copied) line.kv("from", klog::hex(r.from())).kv("to", klog::hex(r.to()));
            else line.kv("frame", klog::hex(r.to()));
            return true;
        }
        case CowWriteOutcome::kOutOfFrames:
            if ((f.cs & 3) == 3) {
                klog::warn("user").msg("killed").kv("pid", t->process.pid).kv("name", t->process.name)
                    .kv("rule", "out-of-memory").kv("addr", klog::hex(address)).kv("why", "no frame left for the copy");
                kernel::leave_user({kernel::UserEnd::kKilled, -1});
            }
            return kernel::fix_up_user_access(f);  // the kernel's copy ends short: its caller says so
        case CowWriteOutcome::kNotCopyOnWrite:
            break;
    }
    return g_first_touch(f);  // a real protection fault: chapter 13 reports it
}
// book:end cow-fault

}  // namespace

void install_copy_on_write_faults() {
    g_first_touch = kernel::set_trap_fixup(copy_on_write_fault);
    KASSERT(g_first_touch != nullptr);  // chapter 13's first touch is installed first
}

}  // namespace mm
