#include "mm/kernel/stale_read.h"

#include "kernel/panic.h"
#include "mm/cpu_tlb.h"
#include "mm/kernel/cpu_startup.h"
#include "mm/kernel/processes.h"
#include "mm/kernel/tlb_shootdown.h"
#include "mm/phys_window.h"
#include "support/log.h"

namespace mm {
namespace {

// A page whose TLB slot under TCG (page number modulo the table size) no
// page the reader touches while it waits shares.
constexpr VirtAddr kVa{0x400A'5000};
constexpr uint64_t kValues[] = {0x5EED0001, 0x5EED0002, 0x5EED0003};
constexpr unsigned kReader = 1;

struct Reader {
    SharedSpace* shared;
    PhysAddr kernel_root;  // what CR3 loads for the kernel: its PML4, or PML5 at five levels
    volatile uint64_t before = 0, after = 0;
    volatile uint32_t phase = 0;  // 1: A has read once; 2: B has remapped
};

// On A: read, let B remap, read again. IF is set (mailbox work), so a
// shootdown reaches A while it waits.
void read_twice(void* arg) {
    Reader& r = *static_cast<Reader*>(arg);
    load_shared_space(*r.shared);
    r.before = read_shared_u64(kVa);
    __atomic_store_n(&r.phase, 1u, __ATOMIC_RELEASE);
    while (__atomic_load_n(&r.phase, __ATOMIC_ACQUIRE) != 2) asm volatile("pause");
    r.after = read_shared_u64(kVa);
    leave_shared_space(*r.shared, r.kernel_root);
}

PhysAddr frame_holding(BitmapFrameAllocator& frames, uint64_t value) {
    const FrameResult f = frames.alloc_frame();
    if (!f.ok()) {
        klog::error("tlb").msg("no frame for the demonstration");
        kernel::fail();
    }
    *phys_to_pointer<uint64_t>(f.frame()) = value;
    return f.frame();
}

// One run: A reads, B remaps va to `fresh` (its token ends in `tlb`), A reads.
template <typename Remap>
void run(Reader& r, Remap remap) {
    const uint64_t ticket = start_on(kReader, read_twice, &r);
    wait_with_interrupts([&] { while (__atomic_load_n(&r.phase, __ATOMIC_ACQUIRE) != 1) asm volatile("pause"); });
    remap();
    __atomic_store_n(&r.phase, 2u, __ATOMIC_RELEASE);
    finish_on(kReader, ticket);
}

void log_read(const Reader& r, const char* protocol, uint64_t expected, uint64_t ipis) {
    const bool stale = r.after != expected;
    klog::Line line = klog::info("tlb");
    line.msg(stale ? "stale read" : "fresh read").kv("cpu", kReader).kv("va", klog::hex(kVa)).kv("protocol", protocol)
        .kv("before", klog::hex(r.before)).kv("expected", klog::hex(expected)).kv("got", klog::hex(r.after));
    if (ipis != ~uint64_t(0)) line.kv("ipis", ipis);
}

}  // namespace

void show_stale_read(KernelAddressSpace& space, BitmapFrameAllocator& frames) {
    if (!online_cpus().mask.has(kReader)) {
        klog::info("tlb").msg("stale read skipped").kv("rule", "needs a second cpu online");
        return;
    }
    const uint64_t used_before = frames.stats().used;
    PhysWindowMemory tables;
    UserAddressSpace us(tables, frames);
    if (us.create(space.root(), space.depth()) != UserMapStatus::kOk) kernel::fail();
    SharedSpace shared{us, {}};
    const PhysAddr old_frame = frame_holding(frames, kValues[0]);
    const PhysAddr neighbour = frame_holding(frames, 0);  // keeps the PT when va is unmapped
    if (us.map_page(kVa, old_frame, user_flags::kData) != UserMapStatus::kOk ||
        us.map_page(kVa + kPageSize, neighbour, user_flags::kData) != UserMapStatus::kOk)
        kernel::fail();
    load_shared_space(shared);  // B has the space loaded too
    Reader r{&shared, space.root()};

    // book:begin stale-read
    // Without the protocol: B's INVLPG reaches B's TLB only.
    const PhysAddr second = frame_holding(frames, kValues[1]);
    UnmappedPage kept;
    run(r, [&] {
        CpuTlb local;
        us.unmap_page(kVa, local, &kept).flush();
        if (us.map_page(kVa, second, user_flags::kData) != UserMapStatus::kOk) kernel::fail();
    });
    log_read(r, "local-invlpg", kValues[1], ~uint64_t(0));
    BitmapSink sink(frames);
    ReleasedFrames released;
    us.release(kept, sink, released);  // only now: A has left the space, its stale entry with it

    // With it: the token is flushed into a batch, A is sent an IPI and
    // acknowledges before the old frame goes back.
    const PhysAddr third = frame_holding(frames, kValues[2]);
    IpiShootdown transport;
    r.phase = 0;
    run(r, [&] {
        ShootdownBatch batch(0, shared.cpus, transport, us, sink);
        UnmappedPage page;
        us.unmap_page(kVa, batch, &page).flush();
        batch.release_after_flush(page);
        (void)batch.finish();
        if (us.map_page(kVa, third, user_flags::kData) != UserMapStatus::kOk) kernel::fail();
    });
    // book:end stale-read
    log_read(r, "shootdown", kValues[2], transport.ipis_sent());

    leave_shared_space(shared, space.root());
    (void)us.destroy(sink);
    log_frames_back("stale-read", used_before, frames.stats().used);
}

}  // namespace mm
