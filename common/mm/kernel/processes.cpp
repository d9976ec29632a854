#include "mm/kernel/processes.h"

#include "arch/x86/cpu.h"
#include "boot/handoff.h"
#include "kernel/kernel.h"
#include "kernel/panic.h"
#include "kernel/screen_console.h"
#include "kernel/user_mode.h"
#include "mm/kernel/syscalls.h"
#include "mm/kernel/user_faults.h"
#include "mm/phys_window.h"
#include "mm/user_address_space.h"
#include "mm/user_audit.h"
#include "mm/user_elf.h"
#include "mm/user_layout.h"
#include "support/log.h"

namespace mm {
namespace {

Process g_current{};
bool g_running = false;

// book:begin load-segment
// One page of a segment. Text is the module's own frame, mapped in place and
// borrowed: the kernel keeps the modules read-only in its window (frame
// exception "boot-modules"), so no mapping anywhere makes the frame writable.
// Anything else gets a fresh frame, zeroed, the file's bytes for it copied in
// through the phys-offset window: the program may write it.
UserMapStatus load_page(UserAddressSpace& space, BitmapFrameAllocator& frames, PhysAddr module, const uint8_t* file,
                        const UserSegment& s, uint64_t va) {
    if (s.rights == SegmentRights::kReadExecute)
        return space.map_page(VirtAddr(va), module + s.file_offset + (va - s.virtual_address),
                              user_flags::kText | user_flags::kBorrowed);
    const FrameResult frame = frames.alloc_frame();
    if (!frame.ok()) return UserMapStatus::kOutOfTableFrames;
    uint8_t* bytes = phys_to_pointer<uint8_t>(frame.frame());
    __builtin_memset(bytes, 0, kPageSize);
    const uint64_t offset = va - s.virtual_address;
    if (offset < s.file_size) {
        const uint64_t n = s.file_size - offset < kPageSize ? s.file_size - offset : kPageSize;
        __builtin_memcpy(bytes, file + s.file_offset + offset, n);
    }
    const UserMapStatus mapped = space.map_page(VirtAddr(va), frame.frame(), user_leaf_flags(s.rights));
    if (mapped != UserMapStatus::kOk) (void)frames.free(frame.frame());  // never mapped: still ours to give back
    return mapped;
}
// book:end load-segment

// book:begin build-process
// The program's address space: its segments, then its stack, below which
// the guard page stays unmapped. A refusal is logged; what was built so far
// is the caller's to destroy.
bool build_address_space(const Process& p, const UserImage& image, PhysAddr module, const uint8_t* file,
                         UserAddressSpace& space, BitmapFrameAllocator& frames) {
    for (size_t i = 0; i < image.segment_count; ++i) {
        const UserSegment& s = image.segments[i];
        const uint64_t pages = pages_for(s.memory_size);
        for (uint64_t page = 0; page < pages; ++page)
            if (const UserMapStatus st = load_page(space, frames, module, file, s, s.virtual_address + page * kPageSize);
                st != UserMapStatus::kOk) {
                klog::warn("user").msg("rejected").kv("name", p.name).kv("field", "segment")
                    .kv("value", klog::hex(s.virtual_address + page * kPageSize)).kv("rule", describe(st));
                return false;
            }
        klog::info("user").msg("segment").kv("pid", p.pid).kv("va", klog::hex(s.virtual_address))
            .kv("pages", pages).kv("rights", segment_rights_name(s.rights));
    }
    const UserSegment stack{kUserStackBottom.value(), 0, 0, kUserStackSize, SegmentRights::kReadWrite};
    for (uint64_t va = kUserStackBottom.value(); va < kUserStackTop.value(); va += kPageSize)
        if (const UserMapStatus st = load_page(space, frames, module, file, stack, va); st != UserMapStatus::kOk) {
            klog::warn("user").msg("rejected").kv("name", p.name).kv("field", "stack").kv("value", klog::hex(va))
                .kv("rule", describe(st));
            return false;
        }
    klog::info("user").msg("stack").kv("pid", p.pid).kv("va", klog::hex(kUserStackBottom)).kv("pages", kUserStackSize / kPageSize)
        .kv("rights", segment_rights_name(stack.rights)).kv("guard", klog::hex(kUserStackGuard));
    return true;
}
// book:end build-process

}  // namespace

bool read_program(const boot::BootModule& module, UserImage* image) {
    const uint8_t* file = phys_to_pointer<const uint8_t>(PhysAddr(module.physical_base));
    if (Violation v = parse_user_elf(file, module.size, image); !v.ok()) {
        klog::warn("user").msg("rejected").kv("name", module.name).kv("field", v.field).kv("value", klog::hex(v.value))
            .kv("rule", v.rule);
        return false;
    }
    return true;
}

namespace {

// book:begin run-program
void run_program(const boot::BootModule& module, uint64_t pid, KernelAddressSpace& kernel_space,
                 BitmapFrameAllocator& frames, Totals& totals) {
    Process p{pid, {}};
    process_name(module, p.name);
    const uint64_t used_before = frames.stats().used;
    const uint8_t* file = phys_to_pointer<const uint8_t>(PhysAddr(module.physical_base));
    UserImage image;
    if (!read_program(module, &image)) {
        ++totals.rejected;
        return;
    }
    PhysWindowMemory tables;
    UserAddressSpace space(tables, frames);
    BitmapSink sink(frames);
    bool built = false;
    // At the kernel's depth: four levels, until chapter 16 allows five.
    if (const UserMapStatus st = space.create(kernel_space.root(), kernel_space.depth()); st != UserMapStatus::kOk)
        klog::warn("user").msg("rejected").kv("name", p.name).kv("field", "pml4").kv("value", uint64_t(0)).kv("rule", describe(st));
    else
        built = build_address_space(p, image, PhysAddr(module.physical_base), file, space, frames);

    // book:begin audit-before-entry
    // Chapter 09's walk over the finished tables, with the user rules, before
    // a single instruction of the program runs.
    if (built) {
        PageTableWalker walker(space.root(), tables, space.depth());  // chapter 16: five levels too
        const UserAudit audit = audit_user_space(walker);
        klog::Line(audit.ok() ? klog::Level::kInfo : klog::Level::kError, "user").msg("audit").kv("pid", p.pid)
            .kv("user-pages", audit.user_pages).kv("kernel-pages", audit.kernel_pages).kv("outside", audit.outside)
            .kv("kernel-user", audit.kernel_user).kv("wx", audit.wx).kv("huge-user", audit.huge_user)
            .kv("ok", audit.ok());
        if (!audit.ok()) {
            klog::error("user").msg("audit failed").kv("pid", p.pid).kv("va", klog::hex(audit.first_bad));
            kernel::fail();  // the kernel built these tables: a finding is the kernel's bug, not the program's
        }
    }
    // book:end audit-before-entry

    kernel::UserOutcome outcome{kernel::UserEnd::kKilled, 0};
    if (built) {
        klog::info("user").msg("start").kv("name", p.name).kv("pid", p.pid).kv("entry", klog::hex(image.entry))
            .kv("pml4", klog::hex(space.pml4())).kv("stack-top", klog::hex(kUserStackTop)).kv("pages", space.pages())
            .kv("borrowed", space.borrowed()).kv("tables", space.tables()).kv("used-before", used_before);
        g_current = p;
        g_running = true;
        kernel::screen_shares_kernel_half(space.root().value());
        x86::write_cr3(space.root().value());  // the kernel half is the same in both: execution goes on
        outcome = kernel::enter_user(image.entry, kUserStackTop.value());
        x86::write_cr3(kernel_space.root().value());  // drops the process's translations (none is global)
        kernel::screen_shares_kernel_half(0);
        g_running = false;
    } else {
        ++totals.rejected;
    }

    const uint64_t pages = space.pages(), tables_owned = space.tables();
    const ReleasedFrames released = space.root().value() != 0 ? space.destroy(sink) : ReleasedFrames{};
    const uint64_t used_after = frames.stats().used;
    const bool balanced = used_after == used_before && released.refused == 0 &&
                          released.pages == pages && released.tables == tables_owned;
    totals.balanced = totals.balanced && balanced;
    if (!built) return;
    ++(outcome.end == kernel::UserEnd::kExit ? totals.exited : totals.killed);
    klog::info("user").msg("exit").kv("pid", p.pid).kv("name", p.name)
        .kv("end", outcome.end == kernel::UserEnd::kExit ? "exit" : "killed").kv("code", int(outcome.code))
        .kv("frames-returned", released.pages + released.tables).kv("pages", released.pages)
        .kv("tables", released.tables).kv("borrowed", released.borrowed).kv("used-before", used_before).kv("used-after", used_after)
        .kv("balanced", balanced);
    if (released.refused != 0) {
        klog::error("user").msg("frames refused on exit").kv("pid", p.pid).kv("refused", released.refused);
        kernel::fail();
    }
}
// book:end run-program

}  // namespace

void process_name(const boot::BootModule& module, char (&out)[32]) {
    size_t n = 0;
    while (n + 1 < sizeof(out) && module.name[n] != '\0') out[n] = module.name[n], ++n;
    if (n >= 4 && out[n - 4] == '.') n -= 4;  // "hello.elf" -> "hello"
    out[n] = '\0';
}

const Process* current_process() { return g_running ? &g_current : nullptr; }

void set_current_process(const Process* process) {
    if (process != nullptr) g_current = *process;
    g_running = process != nullptr;
}

void start_user_mode() {
    install_user_fault_reports();
    kernel::install_user_mode(handle_syscall);
}

void run_each_boot_module(KernelAddressSpace& space, BitmapFrameAllocator& frames, ProgramRunner run_program) {
    const boot::BootHandoff& handoff = kernel::boot_handoff();
    klog::info("user").msg("modules").kv("count", uint64_t(handoff.module_count));
    // The lower half every program gets, once (user_layout.h): the book draws
    // a process's address space from these and the region lines.
    klog::info("user").msg("layout").kv("lowest", klog::hex(kUserLowest)).kv("limit", klog::hex(kUserLimit))
        .kv("lower-half-end", klog::hex(kUserLimit.value() + kPageSize));
    Totals totals;
    const uint64_t used_before = frames.stats().used;
    for (uint32_t i = 0; i < handoff.module_count; ++i) {
        ++totals.programs;
        run_program(handoff.modules[i], totals.programs, space, frames, totals);
    }
    const uint64_t used_after = frames.stats().used;
    klog::info("user").msg("all programs done").kv("programs", totals.programs).kv("exited", totals.exited)
        .kv("killed", totals.killed).kv("rejected", totals.rejected).kv("used-before", used_before)
        .kv("used-after", used_after).kv("balanced", totals.balanced && used_before == used_after);
}

void run_boot_modules(KernelAddressSpace& space, BitmapFrameAllocator& frames) {
    run_each_boot_module(space, frames, run_program);
}

}  // namespace mm
