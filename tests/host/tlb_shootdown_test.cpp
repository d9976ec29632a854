// Chapter 15's pure parts: the processors of the MADT (read_madt_cpus), the
// ICR encodings of an IPI in xAPIC and x2APIC mode (apic_icr.h), the CPU
// set (CpuMask), and the shootdown bookkeeping (ShootdownBatch) over a fake
// physical memory with a transport that records what each CPU was asked.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "fake_physical_memory.h"
#include "mm/apic_icr.h"
#include "mm/cpu_mask.h"
#include "mm/madt_cpus.h"
#include "mm/shootdown_batch.h"
#include "mm/user_address_space.h"

using mm::CpuMask;
using mm::PhysAddr;
using mm::VirtAddr;
using mm::acpi::MadtCpus;

namespace {

// An MADT of the given revision with entries appended by the helpers; bytes()
// fills in the length (the checksum is find_acpi_devices' business).
class MadtBuilder {
public:
    explicit MadtBuilder(uint8_t revision = 5) : bytes_(44, 0) {
        std::memcpy(bytes_.data(), "APIC", 4);
        bytes_[8] = revision;
    }
    MadtBuilder& lapic(uint8_t uid, uint8_t apic_id, uint32_t flags, uint8_t length = 8) {
        std::vector<uint8_t> e(length, 0);
        e[0] = 0, e[1] = length, e[2] = uid, e[3] = apic_id;
        if (length >= 8) std::memcpy(&e[4], &flags, 4);
        return append(e);
    }
    MadtBuilder& x2apic(uint32_t uid, uint32_t apic_id, uint32_t flags, uint8_t length = 16) {
        std::vector<uint8_t> e(length, 0);
        e[0] = 9, e[1] = length;
        if (length >= 16) {
            std::memcpy(&e[4], &apic_id, 4);
            std::memcpy(&e[8], &flags, 4);
            std::memcpy(&e[12], &uid, 4);
        }
        return append(e);
    }
    MadtBuilder& ioapic() { return append({1, 12, 0, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0}); }
    std::vector<uint8_t> bytes() const {
        std::vector<uint8_t> b = bytes_;
        const uint32_t length = uint32_t(b.size());
        std::memcpy(&b[4], &length, 4);
        return b;
    }

private:
    MadtBuilder& append(const std::vector<uint8_t>& e) {
        bytes_.insert(bytes_.end(), e.begin(), e.end());
        return *this;
    }
    std::vector<uint8_t> bytes_;
};

constexpr uint32_t kEnabled = mm::acpi::kMadtFlagEnabled, kOnlineCapable = mm::acpi::kMadtFlagOnlineCapable;

Violation read(const std::vector<uint8_t>& madt, uint32_t bsp, MadtCpus* out) {
    return mm::acpi::read_madt_cpus(madt.data(), uint32_t(madt.size()), bsp, out);
}

std::vector<uint32_t> ids(const MadtCpus& cpus) {
    std::vector<uint32_t> v;
    for (size_t i = 0; i < cpus.count; ++i) v.push_back(cpus.cpu[i].apic_id);
    return v;
}

}  // namespace

// What QEMU's firmware lists for -smp 4: four type-0 entries, all enabled.
TEST(MadtCpus, ListsEveryEnabledProcessorWithTheBspFirst) {
    const auto madt = MadtBuilder(3).lapic(0, 0, kEnabled).lapic(1, 1, kEnabled).ioapic()
                          .lapic(2, 2, kEnabled).lapic(3, 3, kEnabled).bytes();
    MadtCpus cpus;
    ASSERT_TRUE(read(madt, 2, &cpus).ok());
    EXPECT_EQ(ids(cpus), (std::vector<uint32_t>{2, 0, 1, 3}));
    EXPECT_TRUE(cpus.bsp_listed);
    EXPECT_EQ(cpus.cpu[0].uid, 2u);
    EXPECT_EQ(cpus.xapic_entries, 4u);
    EXPECT_EQ(cpus.duplicates, 0u);
}

TEST(MadtCpus, ReadsX2ApicEntriesAndTheirThirtyTwoBitIds) {
    const auto madt = MadtBuilder().lapic(0, 0, kEnabled).x2apic(300, 0x1234, kEnabled).x2apic(301, 255, kEnabled).bytes();
    MadtCpus cpus;
    ASSERT_TRUE(read(madt, 0, &cpus).ok());
    EXPECT_EQ(ids(cpus), (std::vector<uint32_t>{0, 0x1234, 255}));
    EXPECT_TRUE(cpus.cpu[1].x2apic_entry);
    EXPECT_EQ(cpus.cpu[1].uid, 300u);
    EXPECT_EQ(cpus.x2apic_entries, 2u);
}

// Enabled: start it. Online Capable alone (revision 5 on): hot-add later, not
// now. Neither: never. Online Capable before revision 5 is a reserved bit.
TEST(MadtCpus, FollowsTheEnabledAndOnlineCapableFlags) {
    const auto madt = MadtBuilder(5).lapic(0, 0, kEnabled).lapic(1, 1, kOnlineCapable).lapic(2, 2, 0)
                          .x2apic(3, 3, kOnlineCapable).lapic(4, 4, kEnabled | kOnlineCapable).bytes();
    MadtCpus cpus;
    ASSERT_TRUE(read(madt, 0, &cpus).ok());
    EXPECT_EQ(ids(cpus), (std::vector<uint32_t>{0, 4}));  // both bits set: enabled wins, as in Linux
    EXPECT_EQ(cpus.online_capable, 2u);
    EXPECT_EQ(cpus.unusable, 1u);

    const auto old = MadtBuilder(4).lapic(0, 0, kEnabled).lapic(1, 1, kOnlineCapable).bytes();
    ASSERT_TRUE(read(old, 0, &cpus).ok());
    EXPECT_EQ(cpus.online_capable, 0u);
    EXPECT_EQ(cpus.unusable, 1u);
}

// What real firmware does: 0xFF placeholders, one CPU in a type-0 and a
// type-9 entry, an entry longer than its structure, a BSP it forgot.
TEST(MadtCpus, ToleratesWhatRealFirmwareEmits) {
    const auto madt = MadtBuilder().lapic(0, 0, kEnabled).lapic(9, 0xFF, kEnabled).x2apic(9, 0xFFFFFFFF, kEnabled)
                          .x2apic(0, 0, kEnabled).lapic(1, 1, kEnabled, 10).bytes();
    MadtCpus cpus;
    ASSERT_TRUE(read(madt, 0, &cpus).ok());
    EXPECT_EQ(ids(cpus), (std::vector<uint32_t>{0, 1}));
    EXPECT_EQ(cpus.invalid_ids, 2u);
    EXPECT_EQ(cpus.duplicates, 1u);

    const auto no_bsp = MadtBuilder().lapic(1, 1, kEnabled).bytes();
    ASSERT_TRUE(read(no_bsp, 7, &cpus).ok());
    EXPECT_EQ(ids(cpus), (std::vector<uint32_t>{7, 1}));
    EXPECT_FALSE(cpus.bsp_listed);
}

TEST(MadtCpus, CountsProcessorsBeyondItsCapacity) {
    MadtBuilder b;
    for (uint32_t id = 0; id < MadtCpus::kCapacity + 3; ++id) b.x2apic(id, id, kEnabled);
    MadtCpus cpus;
    ASSERT_TRUE(read(b.bytes(), 0, &cpus).ok());
    EXPECT_EQ(cpus.count, MadtCpus::kCapacity);
    EXPECT_EQ(cpus.beyond_capacity, 3u);
}

TEST(MadtCpus, RefusesByFieldAndValue) {
    MadtCpus cpus;
    Violation v = read(MadtBuilder().lapic(1, 1, kEnabled, 6).bytes(), 0, &cpus);
    EXPECT_STREQ(v.field, "madt.lapic.length");
    EXPECT_EQ(v.value, 6u);
    EXPECT_EQ(v.index, 0u);

    v = read(MadtBuilder().ioapic().x2apic(1, 1, kEnabled, 12).bytes(), 0, &cpus);
    EXPECT_STREQ(v.field, "madt.x2apic.length");
    EXPECT_EQ(v.value, 12u);
    EXPECT_EQ(v.index, 1u);

    auto bytes = MadtBuilder().lapic(1, 1, kEnabled).bytes();
    bytes[44 + 1] = 200;  // runs past the table
    v = read(bytes, 0, &cpus);
    EXPECT_STREQ(v.field, "madt.entry.length");
    EXPECT_EQ(v.value, 200u);

    bytes = MadtBuilder().bytes();
    v = mm::acpi::read_madt_cpus(bytes.data(), 40, 0, &cpus);
    EXPECT_STREQ(v.field, "madt.length");
}

// SDM Vol. 3A, Figure 10-12 and 10.12.9: the same low half, the destination
// in bits 24-31 of the high register or in bits 32-63 of MSR 0x830.
TEST(ApicIcr, EncodesInitStartupAndFixedIpis) {
    using namespace mm::apic;
    EXPECT_EQ(icr_low(init_ipi(3)), 0x0000'4500u);
    EXPECT_EQ(icr_low(fixed_ipi(3, 0xF0)), 0x0000'40F0u);
    Ipi sipi{};
    ASSERT_TRUE(startup_ipi(3, PhysAddr(0x9F000), &sipi).ok());
    EXPECT_EQ(icr_low(sipi), 0x0000'469Fu);

    uint32_t high = 0;
    ASSERT_TRUE(xapic_icr_high(fixed_ipi(3, 0xF0), &high).ok());
    EXPECT_EQ(high, 0x0300'0000u);
    const Violation v = xapic_icr_high(fixed_ipi(0x100, 0xF0), &high);
    EXPECT_STREQ(v.field, "icr.destination");
    EXPECT_EQ(v.value, 0x100u);

    EXPECT_EQ(x2apic_icr(fixed_ipi(0x1234, 0xF0)), 0x0000'1234'0000'40F0ull);
    EXPECT_EQ(x2apic_icr(init_ipi(0xFFFF'FFFE)), 0xFFFF'FFFE'0000'4500ull);
    EXPECT_EQ(kX2ApicIcrMsr, 0x830u);
}

TEST(ApicIcr, RefusesAStartupPageOutsideRealModeReach) {
    using namespace mm::apic;
    Ipi sipi{};
    for (uint64_t pa : {0x0ull, 0x100000ull, 0x9F800ull}) {
        const Violation v = startup_ipi(1, PhysAddr(pa), &sipi);
        EXPECT_STREQ(v.field, "sipi.trampoline") << pa;
        EXPECT_EQ(v.value, pa);
    }
}

TEST(CpuMask, CountsAndEditsWithoutPopcount) {
    EXPECT_EQ(CpuMask::first(8).without(0).count(), 7u);
    EXPECT_EQ(CpuMask(0b1010).with(0).bits(), 0b1011u);
    EXPECT_TRUE(CpuMask::only(63).has(63));
    EXPECT_FALSE(CpuMask::only(63).has(64));
    mm::LoadedCpus loaded;
    loaded.add(1), loaded.add(3), loaded.remove(1);
    EXPECT_EQ(loaded.loaded(), CpuMask::only(3));
}

namespace {

constexpr PhysAddr kBase{0x100000};

class RecordingSink final : public mm::FrameSink {
public:
    bool return_frame(PhysAddr frame) override { return returned.insert(frame.value()).second; }
    std::set<uint64_t> returned;
};

// Each target's requests, and the frames freed by the time each was sent:
// none of a round's frames may be free when its request goes out.
class RecordingTransport final : public mm::ShootdownTransport {
public:
    explicit RecordingTransport(const RecordingSink& sink) : sink_(sink) {}
    void invalidate_here(const mm::FlushRequest& r) override { here.push_back(r); }
    void send_and_wait(CpuMask targets, const mm::FlushRequest& r) override {
        sent.push_back({targets, r});
        freed_when_sent.push_back(sink_.returned.size());
    }
    struct Sent {
        CpuMask targets;
        mm::FlushRequest request;
    };
    std::vector<mm::FlushRequest> here;
    std::vector<Sent> sent;
    std::vector<size_t> freed_when_sent;

private:
    const RecordingSink& sink_;
};

PhysAddr kernel_pml4(FakePhysicalMemory& memory, FakeFrameSource& frames) {
    const PhysAddr pml4 = frames.alloc_frame().frame();
    mm::PageTable& t = *memory.table_at(pml4);
    for (auto& e : t.entries) e.clear();
    for (unsigned slot = 256; slot < 512; ++slot)
        t.entries[slot].set(mm::PageTableLevel::kPml4, kBase, x86::pte::kPresent | x86::pte::kWritable);
    return pml4;
}

constexpr uint64_t kVa = 0x4000'0000;

struct World {
    FakePhysicalMemory memory{kBase, 256};
    FakeFrameSource frames{memory};
    mm::UserAddressSpace space{memory, frames};
    RecordingSink sink;
    RecordingTransport transport{sink};
    std::vector<uint64_t> data_frames;
    mm::LoadedCpus cpus;

    World(uint64_t pages) {
        EXPECT_EQ(space.create(kernel_pml4(memory, frames)), mm::UserMapStatus::kOk);
        for (uint64_t i = 0; i < pages; ++i) {
            const PhysAddr f = frames.alloc_frame().frame();
            data_frames.push_back(f.value());
            EXPECT_EQ(space.map_page(VirtAddr(kVa + i * kPageSize), f, mm::user_flags::kData), mm::UserMapStatus::kOk);
        }
    }
    // Unmaps `count` pages from `first` through a batch, as the kernel does.
    mm::ShootdownStats unmap(unsigned self, CpuMask loaded, uint64_t first, uint64_t count, uint64_t stride = 1) {
        for (unsigned cpu = 0; cpu < CpuMask::kMaxCpus; ++cpu) {
            if (loaded.has(cpu)) cpus.add(cpu);
            else cpus.remove(cpu);
        }
        mm::ShootdownBatch batch(self, cpus, transport, space, sink);
        for (uint64_t i = 0; i < count; ++i) {
            mm::UnmappedPage page;
            space.unmap_page(VirtAddr(kVa + (first + i * stride) * kPageSize), batch, &page).flush();
            batch.release_after_flush(page);
        }
        return batch.finish();
    }
};

}  // namespace

// Three pages, the space loaded on CPUs 0, 2 and 3, CPU 2 unmapping: one
// request to CPUs 0 and 3 with one range of three pages; CPU 2 invalidates
// its own; the frames are freed only after the request.
TEST(ShootdownBatch, SendsOneRequestPerRoundToTheOtherLoadedCpus) {
    World w(4);
    const mm::ShootdownStats s = w.unmap(2, CpuMask(0b1101), 0, 3);
    ASSERT_EQ(w.transport.sent.size(), 1u);
    EXPECT_EQ(w.transport.sent[0].targets, CpuMask(0b1001));
    const mm::FlushRequest& r = w.transport.sent[0].request;
    EXPECT_FALSE(r.full);
    ASSERT_EQ(r.range_count, 1u);
    EXPECT_EQ(r.ranges[0].start, VirtAddr(kVa));
    EXPECT_EQ(r.ranges[0].pages, 3u);
    EXPECT_EQ(w.transport.here.size(), 1u);
    EXPECT_EQ(w.transport.freed_when_sent[0], 0u);
    EXPECT_EQ(s.ipis, 2u);
    EXPECT_EQ(s.rounds, 1u);
    EXPECT_EQ(s.released.pages, 3u);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(w.sink.returned.count(w.data_frames[i]));
}

TEST(ShootdownBatch, AsksForAFullFlushAboveTheThresholdOrWhenRangesRunOut) {
    World w(40);
    mm::ShootdownStats s = w.unmap(0, CpuMask(0b11), 0, mm::kFullFlushThreshold);
    EXPECT_FALSE(w.transport.sent.back().request.full);
    s = w.unmap(0, CpuMask(0b11), 8, mm::kFullFlushThreshold + 1);
    EXPECT_TRUE(w.transport.sent.back().request.full);
    EXPECT_EQ(s.full_rounds, 1u);
    // Five pages two apart: five ranges, one more than a request carries.
    s = w.unmap(0, CpuMask(0b11), 20, 5, 2);
    EXPECT_TRUE(w.transport.sent.back().request.full);
}

// Nobody else has the space loaded: no IPI at all, the frames still freed.
TEST(ShootdownBatch, SendsNothingWhenOnlyTheInitiatorHasTheSpace) {
    World w(2);
    const mm::ShootdownStats s = w.unmap(1, CpuMask::only(1), 0, 2);
    EXPECT_TRUE(w.transport.sent.empty());
    EXPECT_EQ(w.transport.here.size(), 1u);
    EXPECT_EQ(s.ipis, 0u);
    EXPECT_EQ(s.released.pages, 2u);
    // And a CPU without the space loaded invalidates nothing of its own.
    World v(1);
    v.unmap(0, CpuMask::only(1), 0, 1);
    EXPECT_TRUE(v.transport.here.empty());
    EXPECT_EQ(v.transport.sent.size(), 1u);
}

// More pages than a batch holds: a round per kMaxPages, each request sent
// before that round's frames were freed.
TEST(ShootdownBatch, EndsARoundWhenItsRoomIsFull) {
    const uint64_t pages = mm::ShootdownBatch::kMaxPages + 5;
    World w(pages);
    const mm::ShootdownStats s = w.unmap(0, CpuMask(0b111), 0, pages);
    ASSERT_EQ(w.transport.sent.size(), 2u);
    EXPECT_EQ(s.rounds, 2u);
    EXPECT_EQ(s.ipis, 4u);
    EXPECT_EQ(w.transport.freed_when_sent[0], 0u);
    EXPECT_EQ(w.transport.freed_when_sent[1], mm::ShootdownBatch::kMaxPages);
    EXPECT_EQ(s.released.pages, pages);
}

TEST(ShootdownBatchDeathTest, RefusesFramesWhoseFlushItHasNotSeen) {
    World w(1);
    EXPECT_DEATH(
        {
            mm::ShootdownBatch batch(0, w.cpus, w.transport, w.space, w.sink);
            mm::UnmappedPage page;
            mm::TlbFlush flush = w.space.unmap_page(VirtAddr(kVa), batch, &page);
            batch.release_after_flush(page);  // before flush(): its frame could outlive a stale entry
            flush.flush();
        },
        "flush the unmap's token");
}

// A CPU that loads the space while pages are being collected is a target:
// the set is read when the round is sent, not when the batch was made.
TEST(ShootdownBatch, ReadsTheLoadedCpusWhenItSends) {
    World w(2);
    w.cpus.add(0);
    mm::ShootdownBatch batch(0, w.cpus, w.transport, w.space, w.sink);
    mm::UnmappedPage page;
    w.space.unmap_page(VirtAddr(kVa), batch, &page).flush();
    batch.release_after_flush(page);
    w.cpus.add(5);
    const mm::ShootdownStats s = batch.finish();
    ASSERT_EQ(w.transport.sent.size(), 1u);
    EXPECT_EQ(w.transport.sent[0].targets, CpuMask::only(5));
    EXPECT_EQ(s.ipis, 1u);
}
