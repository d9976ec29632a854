// Chapter 11's library: BitmapFrameAllocator (the handover from the boot
// allocator, allocation, free with double-free and foreign-frame detection,
// the page-table reserve, PageTableBuilder on top of it), usable_by_type, and
// HeapAllocator over a buffer posing as the heap's mapped pages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "mm/bitmap_frame_allocator.h"
#include "mm/boot_memory.h"
#include "fake_physical_memory.h"
#include "mm/fault_decode.h"
#include "mm/heap_allocator.h"
#include "memory_map_builder.h"
#include "mm/page_table_builder.h"

using boot::EfiMemoryType;
using mm::BitmapFrameAllocator;
using mm::BootFrameAllocator;
using mm::FrameFreeStatus;
using mm::MemoryRange;
using mm::PhysAddr;
using mm::RangeKind;

namespace {

constexpr size_t kReserve = BitmapFrameAllocator::kPageTableReserve;

// The bitmap's frames, as host memory: any frame of "RAM" asked for gets a
// zero-filled buffer; the test checks the allocator asked for free frames.
class FakeBitmapStorage final : public mm::BitmapStorage {
public:
    uint64_t* words_at(PhysAddr first, uint64_t frames) override {
        first_ = first;
        frames_ = frames;
        words_.assign(frames * kPageSize / sizeof(uint64_t), 0xA5A5A5A5A5A5A5A5ull);  // garbage, as RAM
        return words_.data();
    }
    PhysAddr first_;
    uint64_t frames_ = 0;

private:
    std::vector<uint64_t> words_;
};

struct Handover {
    BootFrameAllocator boot;
    BitmapFrameAllocator steady;
    FakeBitmapStorage storage;
    std::vector<PhysAddr> early;  // what the boot allocator handed out before
    mm::HandoverResult result;

    // Regions from `ranges`; the boot allocator hands out `early_frames` first.
    Handover(const MemoryRange* ranges, size_t count, size_t early_frames) {
        boot.init(ranges, count);
        for (size_t i = 0; i < early_frames; ++i) early.push_back(boot.alloc_frame().frame());
        result = steady.take_over(boot, storage);
    }
};

const MemoryRange kTwoRegions[] = {
    {PhysAddr(0x0), PhysAddr(0xA0000), RangeKind::kUsable},                    // below 1 MiB: never managed
    {PhysAddr(0x100000), PhysAddr(0x140000), RangeKind::kUsable},              // 64 frames
    {PhysAddr(0x140000), PhysAddr(0x200000), RangeKind::kKernelImage},
    {PhysAddr(0x200000), PhysAddr(0x300000), RangeKind::kUsable},              // 256 frames
};
constexpr uint64_t kTwoRegionFrames = 64 + 256;

std::vector<PhysAddr> drain(mm::FrameSource& frames) {
    std::vector<PhysAddr> out;
    for (mm::FrameResult r = frames.alloc_frame(); r.ok(); r = frames.alloc_frame()) out.push_back(r.frame());
    return out;
}

}  // namespace

TEST(BitmapFrameAllocator, HandoverLosesAndDuplicatesNoFrame) {
    Handover h(kTwoRegions, 4, 70);  // the boot allocator crossed into the second region
    ASSERT_TRUE(h.result.ok);
    EXPECT_EQ(h.result.inherited, 70u + kReserve);  // its reserve counts as handed out
    EXPECT_EQ(h.result.reserve_moved, kReserve);
    EXPECT_EQ(h.storage.frames_, 1u);  // 320 bits fit in a page
    const mm::FrameStats s = h.steady.stats();
    EXPECT_EQ(s.total, kTwoRegionFrames);
    EXPECT_EQ(s.reserve, kReserve);
    EXPECT_EQ(s.used, 70u + kReserve + 1);
    EXPECT_EQ(s.used + s.free, s.total);
    // The boot allocator is empty now: a stale reference cannot hand out a frame twice.
    EXPECT_FALSE(h.boot.alloc_frame().ok());
    EXPECT_FALSE(h.boot.alloc_page_table_frame().ok());

    // Every frame of the regions is in exactly one place: handed out before,
    // the reserve, the bitmap, or handed out now.
    std::vector<PhysAddr> now = drain(h.steady);
    std::map<uint64_t, int> owners;
    for (PhysAddr f : h.early) owners[f.value()]++;
    for (PhysAddr f : now) owners[f.value()]++;
    for (size_t i = 0; i < kReserve; ++i) owners[h.steady.alloc_page_table_frame().frame().value()]++;
    owners[h.storage.first_.value()]++;
    EXPECT_EQ(owners.size(), kTwoRegionFrames);
    for (const auto& [frame, count] : owners) {
        EXPECT_EQ(count, 1) << std::hex << frame;
        EXPECT_TRUE((frame >= 0x100000 && frame < 0x140000) || (frame >= 0x200000 && frame < 0x300000)) << std::hex << frame;
    }
    // Nothing handed out before comes out again.
    for (PhysAddr f : h.early) EXPECT_TRUE(std::find(now.begin(), now.end(), f) == now.end());
    // The bitmap lives where the boot allocator never reached.
    EXPECT_TRUE(std::find(h.early.begin(), h.early.end(), h.storage.first_) == h.early.end());
}

TEST(BitmapFrameAllocator, ExhaustionIsAResultAndFreedFramesComeBack) {
    Handover h(kTwoRegions, 4, 0);
    std::vector<PhysAddr> all = drain(h.steady);
    EXPECT_EQ(all.size(), kTwoRegionFrames - kReserve - 1);
    EXPECT_FALSE(h.steady.alloc_frame().ok());
    EXPECT_FALSE(h.steady.alloc_frame().ok());
    EXPECT_EQ(h.steady.stats().free, 0u);
    EXPECT_EQ(h.steady.page_table_frames_available(), kReserve);
    EXPECT_EQ(h.steady.free(all[17]), FrameFreeStatus::kOk);
    EXPECT_EQ(h.steady.free(all[200]), FrameFreeStatus::kOk);
    std::set<uint64_t> back = {h.steady.alloc_frame().frame().value(), h.steady.alloc_frame().frame().value()};
    EXPECT_EQ(back, (std::set<uint64_t>{all[17].value(), all[200].value()}));
    EXPECT_FALSE(h.steady.alloc_frame().ok());
    for (PhysAddr f : all) EXPECT_EQ(h.steady.free(f), FrameFreeStatus::kOk);
    EXPECT_EQ(h.steady.stats().free, kTwoRegionFrames - kReserve - 1);
}

TEST(BitmapFrameAllocator, FreeRefusesWhatItDoesNotOwnByName) {
    Handover h(kTwoRegions, 4, 3);
    const PhysAddr frame = h.steady.alloc_frame().frame();
    EXPECT_EQ(h.steady.free(frame), FrameFreeStatus::kOk);
    EXPECT_EQ(h.steady.free(frame), FrameFreeStatus::kDoubleFree);
    EXPECT_EQ(h.steady.free(PhysAddr(0x2FF000)), FrameFreeStatus::kDoubleFree);  // never handed out
    EXPECT_EQ(h.steady.free(PhysAddr(0x9000)), FrameFreeStatus::kForeign);       // below 1 MiB
    EXPECT_EQ(h.steady.free(PhysAddr(0x150000)), FrameFreeStatus::kForeign);     // the kernel image
    EXPECT_EQ(h.steady.free(PhysAddr(0x300000)), FrameFreeStatus::kForeign);     // past the end
    EXPECT_EQ(h.steady.free(PhysAddr(0x100800)), FrameFreeStatus::kMisaligned);
    EXPECT_EQ(h.steady.free(h.storage.first_), FrameFreeStatus::kOwnBitmap);
    const PhysAddr table = h.steady.alloc_page_table_frame().frame();  // refilled at once
    EXPECT_EQ(h.steady.stats().reserve, kReserve);
    EXPECT_EQ(h.steady.free(table), FrameFreeStatus::kOk);
    const PhysAddr in_reserve = h.steady.alloc_page_table_frame().frame();
    EXPECT_EQ(h.steady.return_page_table_frame(in_reserve), FrameFreeStatus::kOk);  // full reserve: freed
    const mm::FrameStats before = h.steady.stats();
    EXPECT_EQ(h.steady.free(h.early[1]), FrameFreeStatus::kOk);  // the boot allocator's frames can be freed too
    EXPECT_EQ(h.steady.stats().free, before.free + 1);
    EXPECT_STREQ(mm::name(FrameFreeStatus::kDoubleFree), "double-free");
    EXPECT_STREQ(mm::name(FrameFreeStatus::kForeign), "foreign-frame");
}

TEST(BitmapFrameAllocator, AReserveFrameCannotBeFreedByAnyone) {
    Handover h(kTwoRegions, 4, 0);
    // Drain general memory: the reserve is what is left, and its frames are not anyone's to free.
    drain(h.steady);
    const PhysAddr table = h.steady.alloc_page_table_frame().frame();  // no refill possible now
    EXPECT_EQ(h.steady.stats().reserve, kReserve - 1);
    EXPECT_EQ(h.steady.return_page_table_frame(table), FrameFreeStatus::kOk);  // back into the reserve
    EXPECT_EQ(h.steady.stats().reserve, kReserve);
    EXPECT_EQ(h.steady.free(table), FrameFreeStatus::kInReserve);
}

TEST(BitmapFrameAllocator, NoRoomForTheBitmapIsAResult) {
    const MemoryRange tiny[] = {{PhysAddr(0x100000), PhysAddr(0x100000 + kReserve * kPageSize), RangeKind::kUsable}};
    BootFrameAllocator boot;
    boot.init(tiny, 1);  // everything went into the boot reserve
    BitmapFrameAllocator steady;
    FakeBitmapStorage storage;
    EXPECT_FALSE(steady.take_over(boot, storage).ok);
}

TEST(BitmapFrameAllocator, PageTableBuilderMapsWithItUnchanged) {
    // A fake RAM of 600 frames at 1 MiB, all usable.
    FakePhysicalMemory ram(PhysAddr(0x100000), 600);
    const MemoryRange usable[] = {{PhysAddr(0x100000), PhysAddr(0x100000 + 600 * kPageSize), RangeKind::kUsable}};
    BootFrameAllocator boot;
    boot.init(usable, 1);
    const PhysAddr pml4 = mm::PageTableBuilder::create_pml4(ram, boot).frame();
    BitmapFrameAllocator steady;
    FakeBitmapStorage storage;
    ASSERT_TRUE(steady.take_over(boot, storage).ok);
    mm::PageTableBuilder builder(pml4, ram, steady, /*cpu_has_1gib_pages=*/true);
    const uint64_t free_before = steady.stats().free;
    const mm::VirtAddr heap(0xFFFF'E000'0000'1000ull);
    for (int i = 0; i < 40; ++i) {
        const PhysAddr frame = steady.alloc_frame().frame();
        ASSERT_TRUE(builder.map_range(heap + i * kPageSize, frame, kPageSize, mm::kHeapPolicy).ok());
    }
    EXPECT_EQ(builder.stats().pages_4k, 40u);
    EXPECT_EQ(builder.stats().tables_created, 3u);  // PDPT, PD, PT
    // Tables came from the reserve, which refilled itself from free frames.
    EXPECT_EQ(steady.stats().reserve, kReserve);
    EXPECT_EQ(free_before - steady.stats().free, 40u + 3u);
}

TEST(UsableByType, CountsUsableFramesPerUefiTypeAbove1MiB) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x0, 0xA0)              // below 1 MiB: not counted
        .add(EfiMemoryType::kConventional, 0x108000, 0xF8)
        .add(EfiMemoryType::kBootServicesData, 0x200000, 0x20)
        .add(EfiMemoryType::kBootServicesCode, 0x220000, 0x8)
        .add(EfiMemoryType::kLoaderCode, 0x228000, 0x4)              // kept: holds the handover trampoline
        .add(EfiMemoryType::kLoaderData, 0x22C000, 0x4)
        .add(EfiMemoryType::kKernelImage, 0x230000, 0x10)            // loader-owned: not usable
        .add(EfiMemoryType::kBootServicesData, 0xF8000, 0x10)        // straddles 1 MiB: only the upper 8 pages
        .add(EfiMemoryType::kAcpiNvs, 0x300000, 0x4);
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    const mm::UsableByType u = mm::usable_by_type(map.view(), PhysAddr(0x100000), ranges);
    std::map<uint32_t, uint64_t> by;
    for (size_t i = 0; i < u.count; ++i) by[u.entries[i].type] = u.entries[i].frames;
    EXPECT_EQ(by[uint32_t(EfiMemoryType::kConventional)], 0xF8u);
    EXPECT_EQ(by[uint32_t(EfiMemoryType::kBootServicesData)], 0x20u + 0x8u);
    EXPECT_EQ(by[uint32_t(EfiMemoryType::kBootServicesCode)], 0x8u);
    EXPECT_EQ(by.count(uint32_t(EfiMemoryType::kLoaderCode)), 0u);
    EXPECT_EQ(by[uint32_t(EfiMemoryType::kLoaderData)], 0x4u);
    EXPECT_EQ(u.count, 4u);
    EXPECT_EQ(u.total_frames, 0xF8u + 0x28u + 0x8u + 0x4u);
    EXPECT_EQ(u.reclaimed_frames, 0x28u + 0x8u + 0x4u);
    EXPECT_EQ(u.set_aside_frames, 0u);
    // The allocator built from the same map manages exactly that many frames.
    BootFrameAllocator boot;
    boot.init(ranges);
    BitmapFrameAllocator steady;
    FakeBitmapStorage storage;
    ASSERT_TRUE(steady.take_over(boot, storage).ok);
    EXPECT_EQ(steady.stats().total, u.total_frames);
}

TEST(UsableByType, AFramebufferSetAsideFromUsableRamIsCountedApartAndTheHandoverAgrees) {
    // The framebuffer in conventional and boot-services-data RAM (memory_map_builder.h):
    // the per-type account from the descriptors leaves its frames out, so it still
    // equals what the bitmap manages, which never includes them.
    namespace fb = framebuffer_in_ram;
    const FakeMemoryMap map = fb::map();
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    ASSERT_TRUE(mm::set_aside_framebuffer(fb::handoff(map), &ranges).ok());
    const mm::UsableByType u = mm::usable_by_type(map.view(), PhysAddr(0x100000), ranges);
    EXPECT_EQ(u.set_aside_frames, (fb::kEnd - fb::kFirstFrame) / kPageSize);
    EXPECT_EQ(u.total_frames, (fb::kRamEnd - 0x10'0000) / kPageSize - u.set_aside_frames);
    std::map<uint32_t, uint64_t> by;
    for (size_t i = 0; i < u.count; ++i) by[u.entries[i].type] = u.entries[i].frames;
    EXPECT_EQ(by[uint32_t(EfiMemoryType::kConventional)], (fb::kFirstFrame - 0x10'0000) / kPageSize);
    EXPECT_EQ(by[uint32_t(EfiMemoryType::kBootServicesData)], (fb::kRamEnd - fb::kEnd) / kPageSize);
    BootFrameAllocator boot;
    boot.init(ranges);
    BitmapFrameAllocator steady;
    FakeBitmapStorage storage;
    ASSERT_TRUE(steady.take_over(boot, storage).ok);
    EXPECT_EQ(steady.stats().total, u.total_frames);
    for (uint64_t pa = fb::kFirstFrame; pa < fb::kEnd; pa += kPageSize) EXPECT_FALSE(steady.manages(PhysAddr(pa)));
    for (mm::FrameResult r = steady.alloc_frame(); r.ok(); r = steady.alloc_frame())
        ASSERT_FALSE(PhysAddr(fb::kFirstFrame) <= r.frame() && r.frame() < PhysAddr(fb::kEnd));
}

// ---- the heap ---------------------------------------------------------------

namespace {

// A "heap window" of host memory; grow() hands it out page-aligned, in order,
// and can be told to refuse (no frames).
class FakeHeapBackend final : public mm::HeapBackend {
public:
    explicit FakeHeapBackend(size_t bytes) : buffer_(new uint8_t[bytes + kPageSize]), bytes_(bytes) {
        start_ = (reinterpret_cast<uint64_t>(buffer_.get()) + kPageSize - 1) & ~(kPageSize - 1);
        std::memset(reinterpret_cast<void*>(start_), 0xA5, bytes);
    }
    bool grow(uint64_t at, uint64_t bytes) override {
        EXPECT_EQ(at, start_ + committed_);  // always at the end
        EXPECT_EQ(bytes % kPageSize, 0u);
        if (refuse_ || committed_ + bytes > bytes_) return false;
        committed_ += bytes;
        ++grows_;
        return true;
    }
    uint64_t start() const { return start_; }
    uint64_t capacity() const { return bytes_; }
    bool refuse_ = false;
    uint64_t committed_ = 0;
    int grows_ = 0;

private:
    std::unique_ptr<uint8_t[]> buffer_;
    uint64_t start_;
    size_t bytes_;
};

struct Heap {
    explicit Heap(size_t bytes = 4 * MiB) : backend(bytes) { heap.init(backend.start(), backend.capacity(), backend); }
    FakeHeapBackend backend;
    mm::HeapAllocator heap;
};

}  // namespace

TEST(HeapAllocator, GrowsOnDemandAndFreesBackToOneBlock) {
    Heap h;
    EXPECT_EQ(h.backend.committed_, 0u);  // nothing mapped until needed
    void* a = h.heap.allocate(100);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(h.backend.committed_, mm::HeapAllocator::kGrowStep);
    void* b = h.heap.allocate(200 * KiB);  // more than a grow step
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(h.heap.stats().live, 2u);
    EXPECT_EQ(reinterpret_cast<uint64_t>(a) % 16, 0u);
    std::memset(a, 1, 100);
    std::memset(b, 2, 200 * KiB);
    EXPECT_TRUE(h.heap.check().ok) << h.heap.check().what;
    EXPECT_EQ(h.heap.free(a), mm::HeapFreeStatus::kOk);
    EXPECT_EQ(h.heap.free(b), mm::HeapFreeStatus::kOk);
    const mm::HeapCheck c = h.heap.check();
    EXPECT_TRUE(c.ok) << c.what;
    EXPECT_EQ(c.blocks, 1u);  // merged back into one free block
    EXPECT_EQ(h.heap.stats().used, 0u);
    EXPECT_EQ(h.heap.stats().live, 0u);
}

TEST(HeapAllocator, AlignedAllocationsAreAlignedAndDisjoint) {
    Heap h;
    std::vector<std::pair<uint8_t*, size_t>> live;
    for (uint64_t align : {16u, 32u, 64u, 256u, 4096u, 65536u}) {
        for (size_t size : {0u, 1u, 24u, 4096u, 5000u}) {
            auto* p = static_cast<uint8_t*>(h.heap.allocate(size, align));
            ASSERT_NE(p, nullptr) << size << " " << align;
            EXPECT_EQ(reinterpret_cast<uint64_t>(p) % align, 0u) << size << " " << align;
            std::memset(p, 0x5C, size);
            live.push_back({p, size});
        }
    }
    std::sort(live.begin(), live.end());
    for (size_t i = 1; i < live.size(); ++i) EXPECT_GE(live[i].first, live[i - 1].first + std::max<size_t>(live[i - 1].second, 1));
    EXPECT_TRUE(h.heap.check().ok) << h.heap.check().what;
    for (auto& [p, size] : live) EXPECT_EQ(h.heap.free(p), mm::HeapFreeStatus::kOk);
    EXPECT_EQ(h.heap.check().blocks, 1u);
    EXPECT_EQ(h.heap.allocate(8, 3), nullptr);                  // not a power of two
    EXPECT_EQ(h.heap.allocate(8, 1 << 20), nullptr);            // beyond kMaxAlignment
    EXPECT_EQ(h.heap.stats().failures, 2u);
}

TEST(HeapAllocator, BadFreesAreRefusedByName) {
    Heap h;
    auto* p = static_cast<uint8_t*>(h.heap.allocate(24));
    auto* q = static_cast<uint8_t*>(h.heap.allocate(24));
    EXPECT_EQ(h.heap.free(p + 16), mm::HeapFreeStatus::kBadHeader);   // inside a payload
    EXPECT_EQ(h.heap.free(p + 8), mm::HeapFreeStatus::kMisaligned);
    int on_stack;
    EXPECT_EQ(h.heap.free(&on_stack), mm::HeapFreeStatus::kOutsideHeap);
    EXPECT_EQ(h.heap.free(nullptr), mm::HeapFreeStatus::kOutsideHeap);
    EXPECT_EQ(h.heap.free(p), mm::HeapFreeStatus::kOk);
    EXPECT_EQ(h.heap.free(p), mm::HeapFreeStatus::kDoubleFree);
    q[24] = 'x';  // one byte past the end
    EXPECT_FALSE(h.heap.check().ok);
    EXPECT_STREQ(h.heap.check().what, "canary");
    EXPECT_EQ(h.heap.free(q), mm::HeapFreeStatus::kOverrun);
    EXPECT_EQ(h.heap.stats().live, 1u);  // refused frees change nothing
    uint64_t size = 0;
    EXPECT_FALSE(h.heap.requested_size(p, &size));
    EXPECT_STREQ(mm::name(mm::HeapFreeStatus::kOverrun), "overrun");
}

TEST(HeapAllocator, ExhaustionIsAResultNotACrash) {
    Heap h(256 * KiB);
    std::vector<void*> got;
    for (void* p = h.heap.allocate(10000); p != nullptr; p = h.heap.allocate(10000)) got.push_back(p);
    EXPECT_GE(got.size(), 20u);
    EXPECT_EQ(h.heap.stats().failures, 1u);
    EXPECT_EQ(h.heap.allocate(uint64_t(1) << 62), nullptr);  // larger than the whole range
    h.backend.refuse_ = true;  // the frames are gone: a grow fails, a fit still works
    EXPECT_EQ(h.heap.free(got.back()), mm::HeapFreeStatus::kOk);
    EXPECT_NE(h.heap.allocate(10000), nullptr);
    EXPECT_TRUE(h.heap.check().ok);
}

TEST(HeapAllocator, RandomStressKeepsEveryInvariant) {
    Heap h(8 * MiB);
    std::mt19937_64 random(11);
    struct Live { uint8_t* p; size_t size; uint8_t fill; };
    std::vector<Live> live;
    for (int op = 0; op < 20000; ++op) {
        if (!live.empty() && (random() % 100 < 45 || live.size() > 300)) {
            const size_t i = random() % live.size();
            // One memcmp, not an ASSERT per byte (a +1 keeps the buffer non-null for a 0-byte block).
            const std::vector<uint8_t> expected(live[i].size + 1, live[i].fill);
            ASSERT_EQ(std::memcmp(live[i].p, expected.data(), live[i].size), 0) << "a live payload was overwritten";
            ASSERT_EQ(h.heap.free(live[i].p), mm::HeapFreeStatus::kOk);
            live[i] = live.back();
            live.pop_back();
        } else {
            const size_t size = random() % 100 < 90 ? random() % 512 : random() % 40000;
            const uint64_t align = uint64_t(16) << (random() % 6);
            auto* p = static_cast<uint8_t*>(h.heap.allocate(size, align));
            ASSERT_NE(p, nullptr);
            ASSERT_EQ(reinterpret_cast<uint64_t>(p) % align, 0u);
            const uint8_t fill = uint8_t(random());
            std::memset(p, fill, size);
            live.push_back({p, size, fill});
        }
        if (op % 1000 == 0) {
            ASSERT_TRUE(h.heap.check().ok) << h.heap.check().what;
        }
    }
    for (Live& l : live) ASSERT_EQ(h.heap.free(l.p), mm::HeapFreeStatus::kOk);
    const mm::HeapCheck c = h.heap.check();
    EXPECT_TRUE(c.ok) << c.what;
    EXPECT_EQ(c.blocks, 1u);
    EXPECT_EQ(h.heap.stats().allocations, h.heap.stats().frees);
}

TEST(FaultDecode, TheHeapGuardIsAGuardPage) {
    const mm::FaultAddressMap map{};
    const mm::FaultVerdict v = mm::classify_address(mm::VirtAddr(0xFFFF'E000'0000'0008ull), map);
    EXPECT_EQ(v.cause, mm::FaultCause::kGuardPage);
    EXPECT_STREQ(v.region, "guard-heap");
    EXPECT_STREQ(mm::classify_address(mm::VirtAddr(0xFFFF'E000'0000'1000ull), map).region, "heap");
}
