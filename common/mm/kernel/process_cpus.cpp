#include "mm/kernel/process_cpus.h"

#include "arch/x86/cpu.h"
#include "kernel/screen_console.h"
#include "mm/kernel/cpu_startup.h"
#include "mm/kernel/lazy_cpus_test.h"
#include "mm/kernel/scheduler.h"
#include "mm/kernel/tlb_shootdown.h"
#include "support/assert.h"
#include "support/log.h"

namespace mm {
namespace {

// The process tables each CPU keeps loaded after its turn; nullptr: the kernel's.
ProcessTlb* g_lazy[CpuMask::kMaxCpus] = {};
unsigned g_last_cpu = 0;

struct Turn {
    Task* task;
    kernel::UserOutcome outcome;
};

// This CPU leaves the process tables it keeps: the kernel's CR3 first, so
// that once its bit is clear it holds none of their entries.
void drop_kept_tables(unsigned me) {
    x86::write_cr3(kernel_root().value());
    g_lazy[me]->cpus().remove(me);
    g_lazy[me] = nullptr;
}

// book:begin turn-on-cpu
// On the CPU the turn was given to, interrupts off while CR3 and the masks
// change (a leave request is an interrupt).
void run_turn_on_this_cpu(void* arg) {
    Turn& turn = *static_cast<Turn*>(arg);
    Task& t = *turn.task;
    uint64_t flags;
    asm volatile("pushfq; pop %0; cli" : "=r"(flags) : : "memory");
    const unsigned me = this_cpu()->index;
    ProcessTlb& tlb = t.memory.tlb;
    const bool kept = g_lazy[me] == &tlb;  // its tables still loaded here since its last turn, and true
    if (!kept) {
        tlb.cpus().add(me);  // the bit first: from here on a change reaches this CPU
        x86::write_cr3(t.space.root().value());
        if (g_lazy[me] != nullptr) g_lazy[me]->cpus().remove(me);  // the CR3 load dropped the last one's entries
        g_lazy[me] = &tlb;
    }
    kernel::screen_shares_kernel_half(t.space.root().value());  // before the first line under its CR3
    log_turn(t, me, kept ? "kept" : "loaded");
    turn.outcome = run_turn_loaded(t);
    if (me == 0 || turn.outcome.end != kernel::UserEnd::kSuspended) drop_kept_tables(me);
    kernel::screen_shares_kernel_half(0);
    if (flags & x86::kRflagsInterrupt) asm volatile("sti" ::: "memory");
}
// book:end turn-on-cpu

unsigned next_cpu() {
    const CpuMask online = online_cpus().mask;
    do g_last_cpu = (g_last_cpu + 1) % CpuMask::kMaxCpus;
    while (!online.has(g_last_cpu));
    return g_last_cpu;
}

kernel::UserOutcome run_turn_on_next_cpu(Task& t) {
    Turn turn{&t, {}};
    const unsigned cpu = next_cpu();
    if (cpu == 0) {
        run_turn_on_this_cpu(&turn);
        return turn.outcome;
    }
    // No time limit: a turn lasts until the program's next system call, as
    // on one CPU (nothing preempts it).
    finish_on(cpu, start_on(cpu, run_turn_on_this_cpu, &turn), kUntimed);
    return turn.outcome;
}

// The task whose tables `tlb` caches, for the log.
const Task& task_of(const ProcessTlb& tlb) {
    const Task* found = nullptr;
    for_each_task([&](const Task& t) { if (&t.memory.tlb == &tlb) found = &t; });
    KASSERT(found != nullptr);
    return *found;
}

// book:begin lazy-cpus-leave
// Every CPU but this one that keeps `tlb`'s tables loaded leaves them.
void make_lazy_cpus_leave(ProcessTlb& tlb, const char* why) {
    // The entries' stores before the mask's load (shootdown_batch.cpp says why).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    const unsigned me = this_cpu()->index;
    const CpuMask lazy = tlb.cpus().loaded().without(me);
    if (lazy.empty()) return;
    const uint64_t ipis = send_leave_and_wait(lazy, tlb);
    KASSERT(tlb.cpus().loaded().without(me).empty());  // every target was idle with the tables: each one left
    const Task& owner = task_of(tlb);
    klog::info("tlb").msg("lazy cpus left").kv("pid", owner.process.pid).kv("cr3", klog::hex(owner.space.root()))
        .kv("initiator", me).kv("targets", klog::hex(lazy.bits())).kv("ipis", ipis).kv("for", why);
}

class LazyCpus final : public OtherCpuTlbs {
public:
    void invalidate(ProcessTlb& tlb, VirtAddr) override {
        if (test_keeps_lazy_cpus(task_of(tlb).process.name)) return;  // the tests' look at the bug (lazy_cpus_test.h)
        make_lazy_cpus_leave(tlb, "invalidate");
    }
    void unload(ProcessTlb& tlb) override {
        KASSERT(!tlb.cpus().loaded().has(this_cpu()->index));  // the scheduler's CPU runs on the kernel's tables
        make_lazy_cpus_leave(tlb, "exit");
    }
};
// book:end lazy-cpus-leave

}  // namespace

bool leave_lazy_tables(ProcessTlb& tables) {
    const unsigned me = this_cpu()->index;
    if (g_lazy[me] != &tables) return false;
    drop_kept_tables(me);
    return true;
}

void run_processes_on_every_cpu() {
    static LazyCpus lazy;
    set_other_cpu_tlbs(&lazy);
    set_turn_runner(run_turn_on_next_cpu);
    klog::info("sched").msg("turns").kv("cpus", klog::hex(online_cpus().mask.bits())).kv("order", "round-robin")
        .kv("lazy", "aps");
}

}  // namespace mm
