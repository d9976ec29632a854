#include "mm/kernel/shootdown_script.h"

#include "kernel/panic.h"
#include "mm/kernel/cpu_startup.h"
#include "mm/kernel/processes.h"
#include "mm/kernel/tlb_shootdown.h"
#include "mm/phys_window.h"
#include "support/log.h"

namespace mm {
namespace {

constexpr VirtAddr kScriptBase{0x4020'0000};
constexpr uint64_t kBatchingPages = 12;

struct Step {
    unsigned initiator;
    CpuMask loaded;
    uint64_t pages;
};

// The pages of the script live in one PT; the last page of it stays mapped
// throughout, so no step frees a table and every freed frame is a page's.
struct Script {
    UserAddressSpace* space = nullptr;
    SharedSpace* shared = nullptr;
    IpiShootdown* transport = nullptr;
    BitmapFrameAllocator* frames = nullptr;
    PhysAddr kernel_root;  // what CR3 loads for the kernel: its PML4, or PML5 at five levels
    // The current step's pages and their new frames.
    VirtAddr first;
    uint64_t pages = 0;
    uint64_t generation = 0;  // the value pages hold: generation << 32 | page index
    PhysAddr fresh[kBatchingPages];
    uint64_t per_page_batches = 0;  // 0: one batch for all pages
    ShootdownStats stats;
    uint64_t stale = 0;  // summed over the loaded CPUs' reads
};

uint64_t value_of(uint64_t generation, uint64_t page) { return generation << 32 | page; }

PhysAddr new_frame(BitmapFrameAllocator& frames, uint64_t value) {
    const FrameResult f = frames.alloc_frame();
    if (!f.ok()) {
        klog::error("tlb").msg("no frame for the script");
        kernel::fail();
    }
    *phys_to_pointer<uint64_t>(f.frame()) = value;
    return f.frame();
}

void join(void* arg) { load_shared_space(*static_cast<Script*>(arg)->shared); }
void leave(void* arg) {
    Script& s = *static_cast<Script*>(arg);
    leave_shared_space(*s.shared, s.kernel_root);
}

// On each loaded CPU: every page of the step, counting the values that are
// not the current generation's.
void read_pages(void* arg) {
    Script& s = *static_cast<Script*>(arg);
    uint64_t stale = 0;
    for (uint64_t i = 0; i < s.pages; ++i)
        if (read_shared_u64(s.first + i * kPageSize) != value_of(s.generation, i)) ++stale;
    __atomic_fetch_add(&s.stale, stale, __ATOMIC_RELAXED);
}

// book:begin script-step
// On the initiator: unmap the step's pages through a batch (or one batch per
// page), then map each page to its fresh frame.
void unmap_and_remap(void* arg) {
    Script& s = *static_cast<Script*>(arg);
    const unsigned self = this_cpu()->index;
    BitmapSink sink(*s.frames);
    const uint64_t batches = s.per_page_batches ? s.pages : 1;
    const uint64_t per_batch = s.pages / batches;
    s.stats = {};
    for (uint64_t b = 0; b < batches; ++b) {
        ShootdownBatch batch(self, s.shared->cpus, *s.transport, *s.space, sink);
        for (uint64_t i = b * per_batch; i < (b + 1) * per_batch; ++i) {
            UnmappedPage page;
            s.space->unmap_page(s.first + i * kPageSize, batch, &page).flush();
            batch.release_after_flush(page);
        }
        const ShootdownStats st = batch.finish();  // every target acknowledged; frames freed
        s.stats.rounds += st.rounds;
        s.stats.ipis += st.ipis;
        s.stats.full_rounds += st.full_rounds;
        s.stats.released.pages += st.released.pages;
        s.stats.released.tables += st.released.tables;
    }
    for (uint64_t i = 0; i < s.pages; ++i)
        if (s.space->map_page(s.first + i * kPageSize, s.fresh[i], user_flags::kData) != UserMapStatus::kOk)
            kernel::fail();
}
// book:end script-step

// Puts the space on exactly the CPUs of `loaded`.
void load_on(Script& s, CpuMask loaded) {
    for (unsigned cpu = 0; cpu < CpuMask::kMaxCpus; ++cpu) {
        if (!online_cpus().mask.has(cpu)) continue;
        const bool has = s.shared->cpus.loaded().has(cpu);
        if (loaded.has(cpu) && !has) run_on(cpu, join, &s);
        if (!loaded.has(cpu) && has) run_on(cpu, leave, &s);
    }
}

void read_on_loaded(Script& s) {
    for (unsigned cpu = 0; cpu < CpuMask::kMaxCpus; ++cpu)
        if (s.shared->cpus.loaded().has(cpu)) run_on(cpu, read_pages, &s);
}

// One step: load, read, unmap + remap on the initiator, read again.
void run_step(Script& s, const Step& step, uint64_t number, VirtAddr first) {
    s.first = first;
    s.pages = step.pages;
    load_on(s, step.loaded);
    s.stale = 0;
    read_on_loaded(s);  // every loaded CPU now caches the old translations
    if (s.stale != 0) {
        klog::error("tlb").msg("script pages not as written").kv("step", number).kv("wrong", s.stale);
        kernel::fail();
    }
    ++s.generation;
    for (uint64_t i = 0; i < step.pages; ++i) s.fresh[i] = new_frame(*s.frames, value_of(s.generation, i));
    if (number != 0)
        klog::info("tlb").msg("script").kv("step", number).kv("initiator", step.initiator)
            .kv("loaded", klog::hex(s.shared->cpus.loaded().bits())).kv("pages", step.pages).kv("va", klog::hex(first))
            .kv("threshold", kFullFlushThreshold);
    const uint64_t ipis_before = s.transport->ipis_sent();
    const ShootdownCounters before = shootdown_counters();
    run_on(step.initiator, unmap_and_remap, &s);
    const ShootdownCounters after = shootdown_counters();
    s.stale = 0;
    read_on_loaded(s);  // each loaded CPU, each page: the new frame's value, or a stale read
    if (number != 0)
        klog::info("tlb").msg("shootdown").kv("step", number).kv("ipis", s.transport->ipis_sent() - ipis_before)
            .kv("acks", after.received - before.received).kv("remote-invlpg", after.pages - before.pages)
            .kv("remote-full", after.full - before.full).kv("rounds", s.stats.rounds)
            .kv("frames-freed", s.stats.released.pages).kv("stale-reads", s.stale);
}

}  // namespace

void run_shootdown_script(KernelAddressSpace& space, BitmapFrameAllocator& frames) {
    const uint64_t used_before = frames.stats().used;
    const OnlineCpus& online = online_cpus();
    unsigned last = 0;
    for (unsigned cpu = 0; cpu < CpuMask::kMaxCpus; ++cpu)
        if (online.mask.has(cpu)) last = cpu;
    CpuMask even;
    for (unsigned cpu = 0; cpu < CpuMask::kMaxCpus; cpu += 2)
        if (online.mask.has(cpu)) even = even.with(cpu);
    // book:begin script
    const Step steps[] = {
        {0, online.mask, 1},
        {0, online.mask, 4},
        {0, online.mask, 12},
        {last, even.with(last), 3},
        {0, CpuMask::only(0), 2},
    };
    // book:end script

    PhysWindowMemory tables;
    UserAddressSpace us(tables, frames);
    if (us.create(space.root(), space.depth()) != UserMapStatus::kOk) kernel::fail();
    SharedSpace shared{us, {}};
    IpiShootdown transport;
    Script s;
    s.space = &us;
    s.shared = &shared;
    s.transport = &transport;
    s.frames = &frames;
    s.kernel_root = space.root();
    // The steps' 1 + 4 + 12 + 3 + 2 pages, the batching pages, and the PT's last page.
    constexpr uint64_t kPages = 22 + kBatchingPages;
    for (uint64_t i = 0; i < kPages; ++i)
        if (us.map_page(kScriptBase + i * kPageSize, new_frame(frames, value_of(0, i)), user_flags::kData) != UserMapStatus::kOk)
            kernel::fail();
    if (us.map_page(kScriptBase + 511 * kPageSize, new_frame(frames, 0), user_flags::kData) != UserMapStatus::kOk)
        kernel::fail();
    // A step's pages hold the current generation's values, numbered within the step.
    uint64_t at = 0;
    uint64_t number = 1;
    for (const Step& step : steps) {
        for (uint64_t i = 0; i < step.pages; ++i)
            *phys_to_pointer<uint64_t>(us.leaf(kScriptBase + (at + i) * kPageSize)->address()) = value_of(s.generation, i);
        run_step(s, step, number++, kScriptBase + at * kPageSize);
        at += step.pages;
    }

    // Batching: the same pages, every CPU loaded, one batch against one per page.
    uint64_t ipis[2];
    for (uint64_t per_page = 0; per_page < 2; ++per_page) {
        for (uint64_t i = 0; i < kBatchingPages; ++i)
            *phys_to_pointer<uint64_t>(us.leaf(kScriptBase + (at + i) * kPageSize)->address()) = value_of(s.generation, i);
        s.per_page_batches = per_page;
        const uint64_t before = transport.ipis_sent();
        run_step(s, {0, online.mask, kBatchingPages}, 0, kScriptBase + at * kPageSize);
        ipis[per_page] = transport.ipis_sent() - before;
    }
    klog::info("tlb").msg("batching").kv("pages", kBatchingPages).kv("cpus", uint64_t(online.count))
        .kv("ipis-batched", ipis[0]).kv("ipis-per-page", ipis[1]);

    load_on(s, CpuMask::only(0));
    leave_shared_space(shared, space.root());
    BitmapSink sink(frames);
    (void)us.destroy(sink);
    log_frames_back("script", used_before, frames.stats().used);
}

}  // namespace mm
