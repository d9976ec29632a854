// Chapter 06's ACPI reader over the memory map (common/mm/acpi_table_window.h):
// tables in firmware RAM read where RAM is mapped, tables in reserved memory
// read through the ACPI tables window it maps for them, and every other
// pointer refused by name; over a fake physical memory for the page tables.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "acpi_builder.h"
#include "fake_physical_memory.h"
#include "memory_map_builder.h"
#include "mm/acpi_table_window.h"
#include "mm/address_space_layout.h"
#include "mm/mmio_map.h"
#include "mm/page_table_lookup.h"
#include "support/log.h"

namespace {

using boot::EfiMemoryType;
using mm::PhysAddr;
using mm::acpi::AcpiTableReader;
using mm::acpi::AcpiTableWindow;
namespace pte = x86::pte;

std::string g_log;
void capture(klog::Level, const char* text, size_t length) { g_log.append(text, length); }

// The fake tables' bytes, for the reader's two ways to a pointer (plain
// function pointers, as in the kernel). Each records what it was asked for.
const AcpiImage* g_image = nullptr;
std::vector<uint64_t> g_firmware_ram_reads, g_mapped_reads;

const uint8_t* image_bytes(PhysAddr pa, uint64_t length) {
    const uint64_t base = AcpiImage::kBase;
    if (pa.value() < base || pa.value() - base + length > g_image->bytes.size()) return nullptr;
    return g_image->bytes.data() + (pa.value() - base);
}
const uint8_t* firmware_ram(PhysAddr pa, uint64_t length) {
    g_firmware_ram_reads.push_back(pa.value());
    return image_bytes(pa, length);
}
const uint8_t* mapped(PhysAddr pa, uint64_t length) {
    g_mapped_reads.push_back(pa.value());
    return image_bytes(pa, length);
}

// RAM around the tables; the tables' 64 KiB at AcpiImage::kBase of `tables_type`.
mm::MemoryRangeList machine(EfiMemoryType tables_type) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x10'0000, 0x7FD00)  // [1 MiB, kBase)
        .add(tables_type, AcpiImage::kBase, 0x10)
        .add(EfiMemoryType::kConventional, AcpiImage::kBase + 0x1'0000, 0x10)
        .add(EfiMemoryType::kMmio, 0xFED0'0000, 0x1, 0);
    mm::MemoryRangeList ranges;
    EXPECT_TRUE(ranges.build(map.view()).ok());
    return ranges;
}

struct Reader {
    explicit Reader(EfiMemoryType tables_type, const AcpiImage& image) : ranges(machine(tables_type)) {
        g_image = &image;
        g_firmware_ram_reads.clear();
        g_mapped_reads.clear();
        g_log.clear();
        klog::set_sink(capture);
    }
    ~Reader() { klog::set_sink(nullptr); }

    mm::MemoryRangeList ranges;
    FakePhysicalMemory memory{PhysAddr(0x7000'0000), 32};
    FakeFrameSource frames{memory};
    mm::PageTableBuilder builder{mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, true};
    AcpiTableWindow window{builder, memory, {true, true}};
    AcpiTableReader reader{ranges, window, firmware_ram, mapped};

    mm::Translation at(uint64_t pa) { return mm::translate(builder.root(), memory, mm::acpi::acpi_table_va(PhysAddr(pa))); }
};

TEST(AcpiTableWindow, ARootTableAndAMadtInReservedMemoryAreReadThroughTheWindow) {
    const AcpiImage image = build_acpi();
    Reader r(EfiMemoryType::kReserved, image);
    mm::acpi::AcpiDevices devices;
    ASSERT_TRUE(mm::acpi::find_acpi_devices(PhysAddr(image.pa(image.rsdp_offset)), r.reader, &devices).ok());
    EXPECT_TRUE(devices.uses_xsdt);
    EXPECT_EQ(devices.root_table, PhysAddr(image.pa(image.root_offset)));
    EXPECT_TRUE(devices.has_madt);
    EXPECT_EQ(devices.ioapic, PhysAddr(0xFEC0'0000));
    EXPECT_TRUE(devices.has_hpet);
    EXPECT_EQ(devices.unreadable_entries, 0u);
    // One frame holds them all: mapped once, read-only, NX, write-back, 4 KiB, at base + pa.
    ASSERT_EQ(r.window.frames().count, 1u);
    EXPECT_EQ(r.window.frames().frames[0], PhysAddr(AcpiImage::kBase));
    const mm::Translation t = r.at(AcpiImage::kBase);
    ASSERT_TRUE(t.present);
    EXPECT_EQ(t.pa, PhysAddr(AcpiImage::kBase));
    EXPECT_EQ(t.page_size, mm::PageSize::k4KiB);
    EXPECT_EQ(t.flags & (pte::kWritable | pte::kNoExecute | pte::kWriteThrough | pte::kCacheDisable | pte::kPat4K),
              pte::kNoExecute);
    EXPECT_EQ(mm::acpi::acpi_table_va(PhysAddr(AcpiImage::kBase)).value(), 0xFFFF'C800'7FE0'0000ull);
    // Every read went through the window, none through the RAM mappings.
    EXPECT_TRUE(g_firmware_ram_reads.empty());
    EXPECT_FALSE(g_mapped_reads.empty());
    EXPECT_EQ(g_log, "[INFO  acpi] map table-frame pa=0x7fe00000 va=0xffffc8007fe00000 flags=P|NX type=WB\n");
}

TEST(AcpiTableWindow, ATableAcrossAFrameEdgeIsMappedOnBothSidesOnceEach) {
    AcpiImage image = build_acpi();
    image.bytes.resize(0x3000);  // bytes behind the tables, as the frames after them have
    Reader r(EfiMemoryType::kReserved, image);
    const PhysAddr across(AcpiImage::kBase + 0x0FF0);
    ASSERT_NE(r.reader.bytes_at(across, 0x20), nullptr);
    ASSERT_NE(r.reader.bytes_at(across, 0x20), nullptr);  // again: nothing new to map
    ASSERT_EQ(r.window.frames().count, 2u);
    EXPECT_EQ(r.window.frames().frames[1], PhysAddr(AcpiImage::kBase + 0x1000));
    EXPECT_TRUE(r.at(AcpiImage::kBase + 0x1000).present);
    EXPECT_FALSE(r.at(AcpiImage::kBase + 0x2000).present);
    EXPECT_EQ(g_mapped_reads, (std::vector<uint64_t>{across.value(), across.value()}));  // the frame the tables name
}

TEST(AcpiTableWindow, TablesInAcpiReclaimAreReadWhereRamIsMappedAndTheWindowStaysEmpty) {
    const AcpiImage image = build_acpi();
    Reader r(EfiMemoryType::kAcpiReclaim, image);
    mm::acpi::AcpiDevices devices;
    ASSERT_TRUE(mm::acpi::find_acpi_devices(PhysAddr(image.pa(image.rsdp_offset)), r.reader, &devices).ok());
    EXPECT_TRUE(devices.has_madt && devices.has_hpet);
    EXPECT_EQ(r.window.frames().count, 0u);
    EXPECT_TRUE(g_mapped_reads.empty());
    EXPECT_FALSE(g_firmware_ram_reads.empty());
    EXPECT_EQ(g_log, "");
}

TEST(AcpiTableWindow, ARsdpInConventionalRamIsRefusedByNameAndNothingIsMapped) {
    const AcpiImage image = build_acpi();
    Reader r(EfiMemoryType::kConventional, image);
    mm::acpi::AcpiDevices devices;
    const Violation v = mm::acpi::find_acpi_devices(PhysAddr(image.pa(image.rsdp_offset)), r.reader, &devices);
    EXPECT_STREQ(v.field, "rsdp");
    EXPECT_EQ(v.value, image.pa(image.rsdp_offset));
    EXPECT_STREQ(v.rule, mm::acpi::kRefusedOwnedRam);
    EXPECT_EQ(r.window.frames().count, 0u);
    EXPECT_TRUE(g_firmware_ram_reads.empty() && g_mapped_reads.empty());
}

TEST(AcpiTableWindow, ARootEntryIntoConventionalRamIsSkippedWithItsRule) {
    AcpiOptions o;
    o.outside_entry = 0x20'0000;  // conventional RAM the allocators own
    const AcpiImage image = build_acpi(o);
    Reader r(EfiMemoryType::kReserved, image);
    mm::acpi::AcpiDevices devices;
    ASSERT_TRUE(mm::acpi::find_acpi_devices(PhysAddr(image.pa(image.rsdp_offset)), r.reader, &devices).ok());
    EXPECT_EQ(devices.unreadable_entries, 1u);
    EXPECT_EQ(devices.first_unreadable_address, 0x20'0000u);
    EXPECT_STREQ(devices.first_unreadable_rule, mm::acpi::kRefusedOwnedRam);
    EXPECT_TRUE(devices.has_madt);
}

TEST(AcpiTableWindow, EveryOtherPlaceIsRefusedByName) {
    const AcpiImage image = build_acpi();
    Reader r(EfiMemoryType::kReserved, image);
    struct Case {
        uint64_t pa, length;
        const char* rule;
    };
    for (const Case c : {Case{0xFED0'0000, 4, mm::acpi::kRefusedDevice},            // device memory
                         Case{0x30, 4, mm::acpi::kRefusedPageZero},                 // page 0
                         Case{0x9000'0000, 4, mm::acpi::kRefusedHole},              // no range
                         Case{0x7FDF'FFF0, 0x20, mm::acpi::kRefusedOwnedRam},       // starts in conventional
                         Case{AcpiImage::kBase + 0xFFF0, 0x20, mm::acpi::kRefusedOwnedRam},  // runs into it
                         Case{~0ull - 3, 8, "must end below the physical address limit"}}) {
        EXPECT_EQ(r.reader.bytes_at(PhysAddr(c.pa), c.length), nullptr) << std::hex << c.pa;
        EXPECT_STREQ(r.reader.refusal(), c.rule) << std::hex << c.pa;
    }
    EXPECT_EQ(r.window.frames().count, 0u);
}

TEST(AcpiTableWindow, ReservedAndFirmwareRamInOneTableAreRefused) {
    const AcpiImage image = build_acpi();
    g_image = &image;
    FakeMemoryMap map;
    map.add(EfiMemoryType::kReserved, AcpiImage::kBase, 0x1).add(EfiMemoryType::kAcpiNvs, AcpiImage::kBase + 0x1000, 0x1);
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    FakePhysicalMemory memory{PhysAddr(0x7000'0000), 8};
    FakeFrameSource frames{memory};
    mm::PageTableBuilder builder{mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, true};
    AcpiTableWindow window{builder, memory, {true, true}};
    AcpiTableReader reader{ranges, window, firmware_ram, mapped};
    EXPECT_EQ(reader.bytes_at(PhysAddr(AcpiImage::kBase + 0xFF0), 0x20), nullptr);
    EXPECT_STREQ(reader.refusal(), mm::acpi::kRefusedMixed);
}

TEST(AcpiTableWindow, ATableBeyondTheWindowOrPastItsCapacityIsRefused) {
    const AcpiImage image = build_acpi();
    g_image = &image;
    FakeMemoryMap map;
    map.add(EfiMemoryType::kReserved, 0x10'0000, 0x40)                        // 64 frames
        .add(EfiMemoryType::kReserved, mm::layout::kAcpiTablesWindowSize, 1);  // the first frame past the window
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    FakePhysicalMemory memory{PhysAddr(0x7000'0000), 8};
    FakeFrameSource frames{memory};
    mm::PageTableBuilder builder{mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, true};
    AcpiTableWindow window{builder, memory, {true, true}};
    AcpiTableReader reader{ranges, window, firmware_ram, [](PhysAddr, uint64_t) -> const uint8_t* {
                               static uint8_t page[2 * 4096];
                               return page;
                           }};
    klog::set_sink(capture);
    EXPECT_EQ(reader.bytes_at(PhysAddr(mm::layout::kAcpiTablesWindowSize), 4), nullptr);
    EXPECT_STREQ(reader.refusal(), mm::acpi::kRefusedBeyondWindow);
    for (size_t i = 0; i < mm::acpi::AcpiTableFrames::kCapacity; ++i)
        ASSERT_NE(reader.bytes_at(PhysAddr(0x10'0000 + i * 4096), 4), nullptr) << i;
    EXPECT_EQ(reader.bytes_at(PhysAddr(0x10'0000 + 32 * 4096), 4), nullptr);
    klog::set_sink(nullptr);
    EXPECT_STREQ(reader.refusal(), mm::acpi::kRefusedWindowFull);
    EXPECT_EQ(window.frames().count, mm::acpi::AcpiTableFrames::kCapacity);
}

}  // namespace

namespace {

TEST(AcpiTableWindow, ADeviceOnAFrameTheWindowMapsIsRefusedByName) {
    // An HPET whose register page is a frame of ACPI tables in reserved memory.
    AcpiOptions o;
    o.hpet_address = AcpiImage::kBase;
    const AcpiImage image = build_acpi(o);
    Reader r(EfiMemoryType::kReserved, image);
    mm::acpi::AcpiDevices acpi;
    ASSERT_TRUE(mm::acpi::find_acpi_devices(PhysAddr(image.pa(image.rsdp_offset)), r.reader, &acpi).ok());
    mm::MmioDeviceAddresses devices = mm::mmio_device_addresses(0xFEE0'0900, acpi, r.ranges, PhysAddr(), 0);
    ASSERT_TRUE(devices.hpet.present && devices.ioapic.present);
    mm::refuse_devices_on_acpi_tables(&devices, r.window.frames());
    EXPECT_FALSE(devices.hpet.present);
    EXPECT_STREQ(devices.hpet.absent, "refused");
    EXPECT_STREQ(devices.hpet.refusal.field, "hpet.address");
    EXPECT_STREQ(devices.hpet.refusal.rule, mm::kRefusedOnAcpiTable);
    EXPECT_STREQ(devices.hpet.overlaps, "acpi-table");
    EXPECT_TRUE(devices.ioapic.present && devices.lapic.present);  // the others stay
}

}  // namespace
