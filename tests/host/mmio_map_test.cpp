// Chapter 06's phases map_mmio_devices and map_framebuffer over a fake
// physical memory: slots, flags, memory types and their log lines.
#include <gtest/gtest.h>

#include <string>

#include "fake_physical_memory.h"
#include "memory_map_builder.h"
#include "mmio_map.h"
#include "page_table_lookup.h"
#include "support/log.h"

namespace {

using mm::PageSize;
using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

constexpr mm::CpuPagingFeatures kFullCpu = {true, true};
constexpr uint64_t kMmio = 0xFFFF'C000'0000'0000ull;
constexpr uint64_t kFb = 0xFFFF'D000'0000'0000ull;
constexpr uint64_t kUc = pte::kPresent | pte::kWritable | pte::kNoExecute | pte::kCacheDisable | pte::kWriteThrough;

std::string g_log;
void capture(klog::Level, const char* text, size_t length) { g_log.append(text, length); }

struct Tables {
    FakePhysicalMemory memory{PhysAddr(0x7000'0000), 32};
    FakeFrameSource frames{memory};
    mm::PageTableBuilder builder{mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames};

    mm::Translation at(uint64_t va) { return mm::translate(builder.pml4(), memory, VirtAddr(va)); }
    Tables() { g_log.clear(); klog::set_sink(capture); }
    ~Tables() { klog::set_sink(nullptr); }
};

TEST(MapMmioDevices, ConsecutiveUncachedSlotsAndOneLogLineEach) {
    Tables t;
    mm::acpi::AcpiDevices acpi;
    acpi.ioapic_count = 1;
    acpi.ioapic = PhysAddr(0xFEC0'0000);
    acpi.has_hpet = true;
    acpi.hpet = PhysAddr(0xFED0'0400);  // 1 KiB-aligned is allowed: the page around it is mapped
    const mm::MmioDeviceAddresses addresses = mm::mmio_device_addresses(0xFEE0'0900, acpi);
    EXPECT_EQ(addresses.lapic, PhysAddr(0xFEE0'0000));  // enable and BSP bits masked off
    mm::MmioDevices d;
    const mm::MapResult r = mm::map_mmio_devices(t.builder, addresses, kFullCpu, &d);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped.pages_4k, 3u);
    EXPECT_EQ(d.lapic, VirtAddr(kMmio));
    EXPECT_EQ(d.ioapic, VirtAddr(kMmio + 0x1000));
    EXPECT_EQ(d.hpet, VirtAddr(kMmio + 0x2400));
    EXPECT_EQ(t.at(kMmio + 0x30).pa, PhysAddr(0xFEE0'0030));
    EXPECT_EQ(t.at(kMmio + 0x2400).pa, PhysAddr(0xFED0'0400));
    for (uint64_t slot = 0; slot < 3; ++slot) EXPECT_EQ(t.at(kMmio + slot * 0x1000).flags, kUc);
    EXPECT_FALSE(t.at(kMmio + 0x3000).present);
    EXPECT_NE(g_log.find("[INFO  mmio] map lapic pa=0xfee00000 va=0xffffc00000000000 size=4KiB "
                         "flags=P|RW|NX|PCD|PWT type=UC\n"), std::string::npos) << g_log;
    EXPECT_NE(g_log.find("[INFO  paging] phase map_mmio_devices devices=3 bytes=12KiB pages-4k=3"), std::string::npos);
}

TEST(MapMmioDevices, AbsentDevicesAreReportedAndTakeNoSlot) {
    Tables t;
    mm::MmioDevices d;
    ASSERT_TRUE(mm::map_mmio_devices(t.builder, mm::mmio_device_addresses(0xFEE0'0800, {}), kFullCpu, &d).ok());
    EXPECT_EQ(d.lapic, VirtAddr(kMmio));
    EXPECT_TRUE(d.ioapic.is_null() && d.hpet.is_null());
    EXPECT_FALSE(t.at(kMmio + 0x1000).present);
    EXPECT_NE(g_log.find("[INFO  mmio] ioapic absent\n"), std::string::npos);
    EXPECT_NE(g_log.find("[INFO  mmio] hpet absent\n"), std::string::npos);
}

TEST(MapMmioDevices, WithoutNxTheDevicesStayUncached) {
    Tables t;
    mm::MmioDevices d;
    ASSERT_TRUE(mm::map_mmio_devices(t.builder, mm::mmio_device_addresses(0xFEE0'0800, {}), {false, false}, &d).ok());
    EXPECT_EQ(t.at(kMmio).flags, kUc & ~pte::kNoExecute);
}

TEST(MapFramebuffer, LargePagesWhereAlignedWriteCombiningAtBothSizes) {
    Tables t;
    // 1280x800x4 = 4000 KiB at 0xC0000000: one 2 MiB page, then 488 pages of 4 KiB.
    const mm::MapResult r = mm::map_framebuffer(t.builder, PhysAddr(0xC000'0000), 1280 * 800 * 4, kFullCpu);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped.pages_2m, 1u);
    EXPECT_EQ(r.mapped.pages_4k, 488u);
    const mm::Translation large = t.at(kFb);
    EXPECT_EQ(large.page_size, PageSize::k2MiB);
    EXPECT_EQ(large.flags, pte::kPresent | pte::kWritable | pte::kNoExecute | pte::kHugePage | pte::kPatHuge);
    const mm::Translation small = t.at(kFb + TWO_MB);
    EXPECT_EQ(small.pa, PhysAddr(0xC020'0000));
    EXPECT_EQ(small.flags, pte::kPresent | pte::kWritable | pte::kNoExecute | pte::kPat4K);
    EXPECT_NE(g_log.find("[INFO  mmio] map framebuffer pa=0xc0000000 va=0xffffd00000000000 size=4000KiB pages-4k=488 "
                         "pages-2m=1 flags=P|RW|NX|PAT|PS flags-4k=P|RW|NX|PAT type=WC\n"), std::string::npos) << g_log;
}

TEST(MapFramebuffer, PartialLastPageIsMappedAndNoFramebufferIsAbsence) {
    Tables t;
    const mm::MapResult r = mm::map_framebuffer(t.builder, PhysAddr(0x8000'1000), 100, kFullCpu);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped.pages_4k, 1u);
    const mm::MapResult none = mm::map_framebuffer(t.builder, PhysAddr(0), 0, kFullCpu);
    EXPECT_TRUE(none.ok());
    EXPECT_EQ(none.mapped.bytes_mapped(), 0u);
    EXPECT_NE(g_log.find("[INFO  mmio] framebuffer absent\n"), std::string::npos);
}

TEST(RamAcpiMemory, ReadsOnlyRamAndNeverPageZero) {
    FakeMemoryMap map;
    map.add(boot::EfiMemoryType::kConventional, 0, 0x10)              // [0, 64 KiB)
        .add(boot::EfiMemoryType::kAcpiReclaim, 0x10'0000, 0x2)       // [1 MiB, 1 MiB + 8 KiB)
        .add(boot::EfiMemoryType::kMmio, 0xFED0'0000, 0x1, 0);        // a device page
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    static uint8_t fake[1];
    mm::acpi::RamAcpiMemory memory(ranges, [](PhysAddr) -> const uint8_t* { return fake; });
    EXPECT_EQ(memory.bytes_at(PhysAddr(0x10'0010), 36), fake);
    EXPECT_EQ(memory.bytes_at(PhysAddr(0x10'1FF0), 0x10), fake);
    EXPECT_EQ(memory.bytes_at(PhysAddr(0x10'1FF0), 0x11), nullptr);  // runs past the ACPI range
    EXPECT_EQ(memory.bytes_at(PhysAddr(0xFED0'0000), 4), nullptr);    // device memory
    EXPECT_EQ(memory.bytes_at(PhysAddr(0x20), 4), nullptr);           // page 0
    EXPECT_EQ(memory.bytes_at(PhysAddr(~0ull - 3), 8), nullptr);      // wraps
}

}  // namespace
