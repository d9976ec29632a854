#include "mm/kernel/demand_processes.h"

#include "arch/x86/cpu.h"
#include "boot/handoff.h"
#include "kernel/kernel.h"
#include "kernel/panic.h"
#include "kernel/screen_console.h"
#include "kernel/user_mode.h"
#include "mm/kernel/demand_faults.h"
#include "mm/kernel/memory_syscalls.h"
#include "mm/kernel/process_memory.h"
#include "mm/kernel/processes.h"
#include "mm/kernel/user_faults.h"
#include "mm/phys_window.h"
#include "mm/user_audit.h"
#include "mm/user_elf.h"
#include "support/log.h"

namespace mm {
namespace {

uint8_t rights_of(SegmentRights rights) {
    namespace r = region_rights;
    switch (rights) {
        case SegmentRights::kReadExecute: return r::kRead | r::kExecute;
        case SegmentRights::kReadOnly: return r::kRead;
        case SegmentRights::kReadWrite: return r::kRead | r::kWrite;
    }
    return r::kRead;
}

void log_region(const Process& p, const UserRegion& r) {
    klog::Line line = klog::info("vm");
    line.msg("region").kv("pid", p.pid).kv("start", klog::hex(r.start)).kv("end", klog::hex(r.end))
        .kv("rights", rights_name(r.rights)).kv("kind", region_kind_name(r.kind));
    if (r.kind == RegionKind::kStack)
        line.kv("grow-limit", klog::hex(r.grow_limit)).kv("guard-gap", klog::size(r.grow_limit - r.reserved_start()));
}

}  // namespace

// book:begin describe-process
// The program as regions: each ELF segment file-backed (bss is the part past
// file_bytes, zeroes), and the stack, which may grow down to kUserStackMax.
// Nothing is mapped.
bool describe_process(const Process& p, const UserImage& image, UserRegions& regions) {
    for (size_t i = 0; i < image.segment_count; ++i) {
        const UserSegment& s = image.segments[i];
        UserRegion r{s.virtual_address, s.virtual_address + pages_for(s.memory_size) * kPageSize,
                     rights_of(s.rights), RegionKind::kFile, s.file_offset, s.file_size};
        r.text = s.rights == SegmentRights::kReadExecute;
        if (const RegionStatus st = regions.add(r); st != RegionStatus::kOk) {
            klog::warn("user").msg("rejected").kv("name", p.name).kv("field", "segment")
                .kv("value", klog::hex(s.virtual_address)).kv("rule", describe(st));
            return false;
        }
        log_region(p, r);
    }
    const UserRegion stack{kUserStackBottom.value(), kUserStackTop.value(), region_rights::kRead | region_rights::kWrite,
                           RegionKind::kStack, 0, 0, kUserStackTop.value() - kUserStackMax};
    if (const RegionStatus st = regions.add(stack); st != RegionStatus::kOk) {
        klog::warn("user").msg("rejected").kv("name", p.name).kv("field", "stack")
            .kv("value", klog::hex(stack.start)).kv("rule", describe(st));
        return false;
    }
    log_region(p, stack);
    return true;
}
// book:end describe-process

namespace {

// book:begin run-on-demand
void run_program(const boot::BootModule& module, uint64_t pid, KernelAddressSpace& kernel_space,
                 BitmapFrameAllocator& frames, Totals& totals) {
    Process p{pid, {}};
    process_name(module, p.name);
    const uint64_t used_before = frames.stats().used;
    UserImage image;
    if (!read_program(module, &image)) {
        ++totals.rejected;
        return;
    }
    PhysWindowMemory tables;
    UserAddressSpace space(tables, frames);
    BitmapSink sink(frames);
    SoleOwnerFrames owner(sink);
    ProcessMemory memory{{}, space, frames, owner, PhysAddr(module.physical_base), {}};
    bool built = describe_process(p, image, memory.regions);
    if (built) {
        // At the kernel's depth: four levels, until chapter 16 allows five.
        if (const UserMapStatus st = space.create(kernel_space.root(), kernel_space.depth()); st != UserMapStatus::kOk) {
            klog::warn("user").msg("rejected").kv("name", p.name).kv("field", "pml4").kv("value", uint64_t(0))
                .kv("rule", describe(st));
            built = false;
        }
    }
    if (!built) {
        ++totals.rejected;
        if (space.root().value() != 0) (void)space.destroy(sink);
        return;
    }

    klog::info("user").msg("start").kv("name", p.name).kv("pid", p.pid).kv("entry", klog::hex(image.entry))
        .kv("pml4", klog::hex(space.pml4())).kv("stack-top", klog::hex(kUserStackTop)).kv("pages", space.pages())
        .kv("borrowed", space.borrowed()).kv("tables", space.tables()).kv("used-before", used_before);
    set_current_process(&p);
    set_current_memory(&memory);
    kernel::screen_shares_kernel_half(space.root().value());
    x86::write_cr3(space.root().value());
    const kernel::UserOutcome outcome = kernel::enter_user(image.entry, kUserStackTop.value());
    x86::write_cr3(kernel_space.root().value());  // drops the process's translations (none is global)
    kernel::screen_shares_kernel_half(0);
    set_current_memory(nullptr);
    set_current_process(nullptr);

    // What first touches built: counted, then audited with chapter 12's rules.
    log_usage(p, memory);
    PageTableWalker walker(space.root(), tables, space.depth());  // chapter 16: five levels too
    const UserAudit audit = audit_user_space(walker);
    klog::Line(audit.ok() ? klog::Level::kInfo : klog::Level::kError, "user").msg("audit").kv("pid", p.pid)
        .kv("user-pages", audit.user_pages).kv("kernel-pages", audit.kernel_pages).kv("outside", audit.outside)
        .kv("kernel-user", audit.kernel_user).kv("wx", audit.wx).kv("huge-user", audit.huge_user).kv("ok", audit.ok());
    if (!audit.ok()) kernel::fail();  // the kernel built these tables: a finding is the kernel's bug

    const uint64_t pages = space.pages(), tables_owned = space.tables();
    const ReleasedFrames released = owner.release_all(space);
    const uint64_t used_after = frames.stats().used;
    const bool balanced = used_after == used_before && released.refused == 0 && released.pages == pages &&
                          released.tables == tables_owned;
    totals.balanced = totals.balanced && balanced;
    ++(outcome.end == kernel::UserEnd::kExit ? totals.exited : totals.killed);
    klog::info("user").msg("exit").kv("pid", p.pid).kv("name", p.name)
        .kv("end", outcome.end == kernel::UserEnd::kExit ? "exit" : "killed").kv("code", int(outcome.code))
        .kv("frames-returned", released.pages + released.tables).kv("pages", released.pages)
        .kv("tables", released.tables).kv("borrowed", released.borrowed).kv("used-before", used_before)
        .kv("used-after", used_after).kv("balanced", balanced);
    if (released.refused != 0) {
        klog::error("user").msg("frames refused on exit").kv("pid", p.pid).kv("refused", released.refused);
        kernel::fail();
    }
}
// book:end run-on-demand

}  // namespace

void start_demand_paging() {
    install_user_fault_reports();                  // chapter 12: a fault in ring 3 kills the program
    kernel::install_user_mode(handle_memory_syscall);  // the memory calls, then chapter 12's
    install_first_touch();                         // in front of chapter 12's exception table
}

void run_boot_modules_on_demand(KernelAddressSpace& space, BitmapFrameAllocator& frames) {
    run_each_boot_module(space, frames, run_program);
}

}  // namespace mm
