#include "mm/kernel/forking_processes.h"

#include "boot/handoff.h"
#include "kernel/panic.h"
#include "kernel/user_mode.h"
#include "mm/cow_audit.h"
#include "mm/counted_pages.h"
#include "mm/kernel/cow_faults.h"
#include "mm/kernel/demand_faults.h"
#include "mm/kernel/demand_processes.h"
#include "mm/kernel/frame_counts.h"
#include "mm/kernel/process_syscalls.h"
#include "mm/kernel/user_faults.h"
#include "mm/page_table_walker.h"
#include "mm/user_audit.h"
#include "mm/user_layout.h"
#include "support/assert.h"
#include "support/log.h"

namespace mm {
namespace {

PhysWindowMemory g_tables;
CountedFrames* g_owner = nullptr;  // one for every process: a count belongs to a frame, not to a process

// What one boot module's processes came to.
struct Family {
    uint64_t first_pid = 0;
    kernel::UserEnd first_end = kernel::UserEnd::kKilled;
    uint64_t processes = 0, copied = 0, taken_over = 0;
};
Family g_family;

// book:begin end-task
// A task ended (exit or a kill), with the kernel's CR3 loaded: its frames go
// back through the counts, its children become orphans, and it waits for
// its parent's wait() as a zombie, or is forgotten if nobody will wait.
void end_task(Task& t, const kernel::UserOutcome& outcome) {
    log_task_usage(t);
    PageTableWalker walker(t.space.root(), g_tables, t.space.depth());  // chapter 12's audit of the tables it leaves
    const UserAudit audit = audit_user_space(walker);
    if (!audit.ok()) {
        klog::error("user").msg("audit").kv("pid", t.process.pid).kv("wx", audit.wx).kv("kernel-user", audit.kernel_user)
            .kv("outside", audit.outside).kv("ok", false);
        kernel::fail();
    }
    t.memory.tlb.unload_everywhere();  // no CPU keeps its tables in CR3 (chapter 15's idle ones would)
    const uint64_t shared_before = g_owner->still_shared();
    const ReleasedFrames released = t.memory.owner.release_all(t.space);
    const bool exited = outcome.end == kernel::UserEnd::kExit;
    klog::info("user").msg("exit").kv("pid", t.process.pid).kv("name", t.process.name).kv("end", exited ? "exit" : "killed")
        .kv("code", int(exited ? outcome.code : -1)).kv("pages", released.pages)
        .kv("still-shared", g_owner->still_shared() - shared_before).kv("tables", released.tables)
        .kv("borrowed", released.borrowed);
    if (released.refused != 0 || g_owner->count_refused() != 0) {
        klog::error("user").msg("frames refused on exit").kv("pid", t.process.pid).kv("refused", released.refused)
            .kv("count-refused", g_owner->count_refused());
        kernel::fail();
    }
    ++g_family.processes;
    g_family.copied += t.copied;
    g_family.taken_over += t.taken_over;
    if (t.process.pid == g_family.first_pid) g_family.first_end = outcome.end;

    for_each_task([&](Task& child) {  // orphans: nobody will wait for them
        if (child.parent != t.process.pid) return;
        child.parent = 0;
        if (child.state == TaskState::kZombie) free_task(child);
    });
    Task* parent = find_task(t.parent);
    if (parent != nullptr && parent->state != TaskState::kZombie) {
        t.state = TaskState::kZombie;
        t.exit_code = exited ? outcome.code : -1;
        if (parent->state == TaskState::kWaiting) parent->state = TaskState::kReady;  // its wait() completes
    } else {
        free_task(t);
    }
    log_cow_audit("exit");
}
// book:end end-task

void log_region_lines_and_start(Task& t, const UserImage& image, uint64_t used_before) {
    klog::info("user").msg("start").kv("name", t.process.name).kv("pid", t.process.pid).kv("entry", klog::hex(image.entry))
        .kv("pml4", klog::hex(t.space.pml4())).kv("stack-top", klog::hex(kUserStackTop)).kv("pages", t.space.pages())
        .kv("borrowed", t.space.borrowed()).kv("tables", t.space.tables()).kv("used-before", used_before);
}

// book:begin run-family
void run_family(const boot::BootModule& module, uint64_t, KernelAddressSpace& kernel_space,
                BitmapFrameAllocator& frames, Totals& totals) {
    FrameRefCounts& counts = frame_counts();
    const uint64_t used_before = frames.stats().used;
    UserImage image;
    char name[32];
    process_name(module, name);
    if (!read_program(module, &image)) {
        ++totals.rejected;
        return;
    }
    Task* first = new_task(name, 0, frames, frames, *g_owner, PhysAddr(module.physical_base));
    KASSERT(first != nullptr);  // the last family has gone: the table is empty
    bool built = describe_process(first->process, image, first->memory.regions);
    if (built) {
        if (const UserMapStatus st = first->space.create(kernel_space.root(), kernel_space.depth()); st != UserMapStatus::kOk) {
            klog::warn("user").msg("rejected").kv("name", name).kv("field", "pml4").kv("value", uint64_t(0))
                .kv("rule", describe(st));
            built = false;
        }
    }
    if (!built) {
        ++totals.rejected;
        BitmapSink sink(frames);
        if (first->space.root().value() != 0) (void)first->space.destroy(sink);
        free_task(*first);
        return;
    }
    first->registers.rip = image.entry;  // its first run "returns" to its entry, on a fresh stack
    first->registers.rsp = kUserStackTop.value();
    first->registers.rflags = 0x2;
    g_family = Family{first->process.pid};
    log_region_lines_and_start(*first, image, used_before);

    run_tasks(kernel_space, end_task);  // the program and everything it forks, to the end

    const uint64_t used_after = frames.stats().used;
    const bool balanced = used_after == used_before && counts.references() == 0 && counts.frames_held() == 0;
    klog::info("cow").msg("family done").kv("name", name).kv("processes", g_family.processes)
        .kv("copied", g_family.copied).kv("taken-over", g_family.taken_over).kv("references", counts.references())
        .kv("counted-frames", counts.frames_held()).kv("used-before", used_before).kv("used-after", used_after)
        .kv("balanced", balanced);
    totals.balanced = totals.balanced && balanced;
    ++(g_family.first_end == kernel::UserEnd::kExit ? totals.exited : totals.killed);
}
// book:end run-family

}  // namespace

void log_task_usage(const Task& t) {
    klog::info("cow").msg("usage").kv("pid", t.process.pid).kv("name", t.process.name).kv("parent", t.parent)
        .kv("state", task_state_name(t.state)).kv("copied", t.copied).kv("taken-over", t.taken_over)
        .kv("faults", t.memory.served()).kv("pages", t.space.pages()).kv("tables", t.space.tables());
}

void log_cow_audit(const char* after) {
    PhysAddr pml4s[kMaxTasks];
    const size_t spaces = live_address_spaces(pml4s);
    const CowAudit a = audit_copy_on_write(g_tables, pml4s, spaces, frame_counts(), /*every_space=*/true);
    klog::Line(a.ok() ? klog::Level::kInfo : klog::Level::kError, "cow").msg("audit").kv("after", after)
        .kv("spaces", uint64_t(spaces)).kv("counted", a.counted_leaves).kv("cow", a.copy_on_write)
        .kv("shared", a.shared_frames).kv("writable-cow", a.writable_cow).kv("writable-shared", a.writable_shared)
        .kv("mismatch", a.count_mismatch).kv("unaccounted", a.unaccounted).kv("ok", a.ok());
    if (!a.ok()) {
        klog::error("cow").msg("audit finding").kv("space", uint64_t(a.first_bad_space))
            .kv("va", klog::hex(a.first_bad)).kv("frame", klog::hex(a.first_bad_frame));
        kernel::fail();  // the kernel built these tables: a finding is the kernel's bug
    }
}

// book:begin start-copy-on-write
void start_copy_on_write(BitmapFrameAllocator& frames) {
    install_user_fault_reports();                        // chapter 12: a fault in ring 3 kills the program
    kernel::install_user_mode(handle_process_syscall);   // fork, yield, wait, then 13's and 12's calls
    install_first_touch();                               // chapter 13
    install_copy_on_write_faults();                      // in front of the first touch
    static BitmapSink sink(frames);
    static CountedFrames owner(g_tables, start_frame_counts(frames), sink);
    g_owner = &owner;
}
// book:end start-copy-on-write

void run_boot_modules_with_fork(KernelAddressSpace& space, BitmapFrameAllocator& frames) {
    run_each_boot_module(space, frames, run_family);
}

}  // namespace mm
