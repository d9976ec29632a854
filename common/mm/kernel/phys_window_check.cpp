#include "mm/kernel/phys_window_check.h"

#include "kernel/panic.h"
#include "mm/phys_window.h"
#include "mm/ram_runs.h"
#include "support/log.h"

namespace mm {
namespace {

struct WindowCheck {
    const MemoryRangeList& ranges;
    const BootFrameAllocator& frames;
    uint64_t addresses = 0;  // pages looked at through both mappings
    uint64_t written = 0;    // of which a pattern was written and restored
    uint64_t not_read = 0;   // pages chosen but left alone: not usable RAM
    PhysAddr last_ram_page;  // the highest page looked at
};

// May the check read this page at all? Only usable RAM: conventional memory
// and the boot-services and loader memory that ExitBootServices freed
// (RangeKind::kUsable), which the firmware itself used a moment ago, so it is
// working DRAM that nobody else owns now. Everything else stays unread,
// although the window maps the firmware's RAM too: ACPI NVS and runtime
// memory belong to the firmware (which may be using them, from SMM or a
// runtime call, and may have fenced them off), and the memory the map calls
// reserved or unusable is not in the window at all (unusable is DRAM that
// failed its test: a read can raise a machine check). The loader-owned kinds
// are in use by this kernel right now; reading them would prove nothing new.
bool may_read(const WindowCheck& check, PhysAddr page) {
    const MemoryRange* range = check.ranges.find(page);
    return range != nullptr && range->kind == RangeKind::kUsable;
}

// Writes are limited: free memory may still hold the firmware's code, and
// under TCG a write to a page QEMU once translated code from costs over a
// millisecond of invalidation (32 writes were 45 ms of a 3 s boot). Eight
// pages, the first usable ones checked, prove the point; the rest are only read.
constexpr uint64_t kMaxWrites = 8;

// May the check write to this page for a moment? Only to free memory that no
// one uses: not a page table the allocator handed out (the MMU may walk it at
// any time), not the kernel, the handoff, ACPI or firmware memory.
bool safe_to_write(const WindowCheck& check, PhysAddr page) {
    if (check.written >= kMaxWrites) return false;
    const MemoryRange* range = check.ranges.find(page);
    return range != nullptr && range->kind == RangeKind::kUsable && page >= BootFrameAllocator::kLowestFrame &&
           !check.frames.was_handed_out(page);
}

// book:begin check-page
// One page, seen both ways: the identity map (va == pa, chapter 04) and the
// window (va == base + pa). The first and last word of the page must agree;
// on free memory a fresh pattern written one way must be read the other way.
void check_page(PhysAddr page, WindowCheck& check) {
    if (page.is_null()) return;  // page 0 is mapped in neither
    if (!may_read(check, page)) {
        ++check.not_read;
        return;
    }
    volatile uint64_t* identity = reinterpret_cast<volatile uint64_t*>(page.value());
    volatile uint64_t* window = phys_to_pointer<volatile uint64_t>(page);
    constexpr size_t kLast = kPageSize / sizeof(uint64_t) - 1;
    bool same = identity[0] == window[0] && identity[kLast] == window[kLast];
    if (same && safe_to_write(check, page)) {
        const uint64_t saved = identity[kLast];
        const uint64_t pattern = 0x5749'4e44'0000'0000ull ^ page.value();  // "WIND"
        identity[kLast] = pattern;
        same = window[kLast] == pattern;
        identity[kLast] = saved;
        ++check.written;
    }
    if (!same) {
        klog::error("window").msg("check failed").kv("pa", klog::hex(page))
            .kv("va", klog::hex(phys_to_virt(page)));
        kernel::fail();
    }
    ++check.addresses;
    if (page > check.last_ram_page) check.last_ram_page = page;
}
// book:end check-page

}  // namespace

void check_phys_window(const MemoryRangeList& ranges, const BootFrameAllocator& frames) {
    WindowCheck check{ranges, frames, 0, 0, 0, PhysAddr()};
    // The first, middle and last page of every usable range: the runs' own
    // edges are often the firmware's memory, which the check does not read.
    for (const MemoryRange& range : ranges) {
        if (range.kind != RangeKind::kUsable) continue;
        check_page(range.start, check);
        check_page(PhysAddr(align_down(range.start.value() + range.size() / 2, kPageSize)), check);
        check_page(PhysAddr(range.end.value() - kPageSize), check);
    }
    for_each_ram_run(ranges, [&](const RamRun& run) {
        const PageSize sizes[] = {PageSize::k1GiB, PageSize::k2MiB};
        for (PageSize size : sizes) {
            const uint64_t step = bytes(size);
            uint64_t boundary = 0;
            if (!align_up(run.start.value() + 1, step, &boundary)) continue;
            for (int i = 0; i < 8 && boundary < run.end.value(); ++i, boundary += step) {
                check_page(PhysAddr(boundary), check);
                check_page(PhysAddr(boundary - kPageSize), check);
            }
        }
        return true;
    });
    const uint64_t ram = ranges.ram_end().value();
    uint64_t seed = 0x9E37'79B9'7F4A'7C15ull;
    for (int i = 0; i < 256; ++i) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;  // an LCG: the same pages every boot
        const PhysAddr page(align_down((seed >> 11) % ram, kPageSize));
        const MemoryRange* range = ranges.find(page);
        if (range != nullptr && is_ram(*range)) check_page(page, check);
    }
    klog::info("window").msg("check passed").kv("addresses", check.addresses).kv("written", check.written)
        .kv("not-read", check.not_read).kv("last-ram-page", klog::hex(check.last_ram_page))
        .kv("last-ram-page-va", klog::hex(phys_to_virt(check.last_ram_page)));
}

}  // namespace mm
