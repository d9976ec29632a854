#include "mm/kernel/tlb_shootdown.h"

#include "arch/x86/cpu.h"
#include "kernel/panic.h"
#include "kernel/screen_console.h"
#include "mm/kernel/cpu_interrupts.h"
#include "mm/kernel/cpu_startup.h"
#include "mm/kernel/process_cpus.h"
#include "support/log.h"

namespace mm {
namespace {

const FlushRequest* volatile g_request = nullptr;
ProcessTlb* volatile g_leaving = nullptr;  // a leave request's process (send_leave_and_wait), or nullptr
uint64_t g_acks = 0;   // CpuMask bits of the targets that are done
uint32_t g_lock = 0;
constexpr uint64_t kAckTimeoutUs = 10'000'000;  // generous: TCG on a loaded host is slow, a bug is not

void invalidate(const FlushRequest& r) {
    if (r.full) {
        x86::write_cr3(x86::read_cr3());  // every non-global translation; user pages are never global
        return;
    }
    for (size_t i = 0; i < r.range_count; ++i)
        for (uint64_t p = 0; p < r.ranges[i].pages; ++p)
            asm volatile("invlpg (%0)" : : "r"(r.ranges[i].start.value() + p * kPageSize) : "memory");
}

// book:begin send-and-wait
// One request in flight at a time: publish it, one IPI per target, wait for
// every acknowledgement. Returns the IPIs sent.
uint64_t send_request_and_wait(CpuMask targets, const FlushRequest& request, ProcessTlb* leaving) {
    wait_with_interrupts([] {
        while (__atomic_exchange_n(&g_lock, 1u, __ATOMIC_ACQUIRE) != 0) asm volatile("pause");
    });
    g_request = &request;
    g_leaving = leaving;
    __atomic_store_n(&g_acks, 0, __ATOMIC_RELEASE);
    const LocalApic& apic = online_cpus().apic;
    uint64_t sent = 0;
    for (unsigned cpu = 0; cpu < CpuMask::kMaxCpus; ++cpu) {
        if (!targets.has(cpu)) continue;
        (void)apic.send(apic::fixed_ipi(per_cpu(cpu).apic_id, kShootdownVector));  // online: addressable
        ++sent;
    }
    // Until every target has invalidated, a frame of the request may still
    // be reached through its TLB: the caller frees nothing before this returns.
    // A CPU that never answers is a kernel bug (it sits with IF clear), named
    // after 10 s rather than waited for forever.
    const uint64_t start = online_cpus().clock.ticks();
    while (__atomic_load_n(&g_acks, __ATOMIC_ACQUIRE) != targets.bits()) {
        asm volatile("pause");
        if (online_cpus().clock.microseconds_since(start) > kAckTimeoutUs) {
            klog::error("tlb").msg("shootdown unanswered").kv("initiator", this_cpu()->index)
                .kv("targets", klog::hex(targets.bits())).kv("acked", klog::hex(g_acks))
                .kv("rule", "every target must acknowledge within 10s");
            kernel::fail();
        }
    }
    g_request = nullptr;
    g_leaving = nullptr;
    __atomic_store_n(&g_lock, 0u, __ATOMIC_RELEASE);
    return sent;
}
// book:end send-and-wait

}  // namespace

// book:begin shootdown-handler
void handle_shootdown_ipi() {
    PerCpu& me = *this_cpu();
    const FlushRequest& r = *g_request;
    ProcessTlb* leaving = g_leaving;
    if (leaving == nullptr || !leave_lazy_tables(*leaving)) invalidate(r);  // leaving loads CR3: a full flush too
    if (r.full) me.full_flushes = me.full_flushes + 1;
    else me.pages_invalidated = me.pages_invalidated + r.pages;
    me.shootdowns_received = me.shootdowns_received + 1;
    __atomic_fetch_or(&g_acks, CpuMask::only(me.index).bits(), __ATOMIC_RELEASE);  // after the invalidation
}
// book:end shootdown-handler

void IpiShootdown::invalidate_here(const FlushRequest& request) { invalidate(request); }

void IpiShootdown::send_and_wait(CpuMask targets, const FlushRequest& request) {
    ipis_sent_ += send_request_and_wait(targets, request, nullptr);
}

uint64_t send_leave_and_wait(CpuMask targets, ProcessTlb& tables) {
    FlushRequest full_flush;  // what a target that no longer keeps them does instead
    full_flush.full = true;
    return send_request_and_wait(targets, full_flush, &tables);
}


// The BSP logs while it has the space loaded: the screen console is told
// the space shares the kernel half (the framebuffer's mapping with it).
void load_shared_space(SharedSpace& shared) {
    const unsigned me = this_cpu()->index;
    shared.cpus.add(me);  // first the bit: a shootdown from now on includes this CPU
    if (me == 0) kernel::screen_shares_kernel_half(shared.space.root().value());
    x86::write_cr3(shared.space.root().value());  // its PML5 at five levels
}

void leave_shared_space(SharedSpace& shared, PhysAddr kernel_root) {
    const unsigned me = this_cpu()->index;
    x86::write_cr3(kernel_root.value());  // first the CR3: this CPU holds none of the space's entries after it
    if (me == 0) kernel::screen_shares_kernel_half(0);
    shared.cpus.remove(me);
}

uint64_t read_shared_u64(VirtAddr va) {
    const bool smap = (x86::read_cr4() & x86::kCr4Smap) != 0;
    uint64_t value;
    if (smap) asm volatile("stac" ::: "memory");
    value = *reinterpret_cast<volatile const uint64_t*>(va.value());
    if (smap) asm volatile("clac" ::: "memory");
    return value;
}

ShootdownCounters shootdown_counters() {
    ShootdownCounters c;
    for (unsigned i = 0; i < CpuMask::kMaxCpus; ++i) {
        if (!online_cpus().mask.has(i)) continue;
        const PerCpu& p = per_cpu(i);
        c.received += p.shootdowns_received;
        c.pages += p.pages_invalidated;
        c.full += p.full_flushes;
    }
    return c;
}

void log_frames_back(const char* after, uint64_t used_before, uint64_t used_after) {
    const bool balanced = used_before == used_after;
    klog::Line(balanced ? klog::Level::kInfo : klog::Level::kError, "tlb").msg("frames back").kv("after", after)
        .kv("used-before", used_before).kv("used-after", used_after).kv("balanced", balanced);
    if (!balanced) kernel::fail();
}

}  // namespace mm
