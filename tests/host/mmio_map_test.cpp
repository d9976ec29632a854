// Chapter 06's phases map_mmio_devices and map_framebuffer over a fake
// physical memory: slots, flags, memory types and their log lines.
#include <gtest/gtest.h>

#include <string>

#include "fake_physical_memory.h"
#include "memory_map_builder.h"
#include "mm/mmio_map.h"
#include "mm/page_table_lookup.h"
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
    mm::PageTableBuilder builder{mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, /*cpu_has_1gib_pages=*/true};

    mm::Translation at(uint64_t va) { return mm::translate(builder.root(), memory, VirtAddr(va)); }
    Tables() { g_log.clear(); klog::set_sink(capture); }
    ~Tables() { klog::set_sink(nullptr); }
};

// A q35-like machine: RAM below 640 KiB and from 1 MiB, the kernel image in
// it, ACPI tables, a "reserved" range that can be cached write-back (RAM, in
// the firmware class), the PCIe window (device memory); the framebuffer at
// 0xC0000000. The devices themselves are in no range at all, as on QEMU.
constexpr uint64_t kKernelImage = 0x0E25'E000;
constexpr uint64_t kFramebuffer = 0xC000'0000;
constexpr uint64_t kFramebufferSize = 1280 * 800 * 4;

mm::MemoryRangeList q35_ranges() {
    FakeMemoryMap map;
    map.add(boot::EfiMemoryType::kConventional, 0, 0xA0)
        .add(boot::EfiMemoryType::kConventional, 0x10'0000, 0xE15E)
        .add(boot::EfiMemoryType::kKernelImage, kKernelImage, 0x31)
        .add(boot::EfiMemoryType::kReserved, 0x0FAE'D000, 0x80)
        .add(boot::EfiMemoryType::kAcpiReclaim, 0x0FB6'D000, 0x12)
        .add(boot::EfiMemoryType::kMmio, 0xB000'0000, 0x1'0000, 0);
    mm::MemoryRangeList ranges;
    EXPECT_TRUE(ranges.build(map.view()).ok());
    return ranges;
}

mm::acpi::AcpiDevices q35_acpi() {
    mm::acpi::AcpiDevices acpi;
    acpi.has_madt = true;
    acpi.madt_local_apic = PhysAddr(0xFEE0'0000);
    acpi.ioapic_count = 1;
    acpi.ioapic = PhysAddr(0xFEC0'0000);
    acpi.has_hpet = true;
    acpi.hpet = PhysAddr(0xFED0'0000);
    return acpi;
}

mm::MmioDeviceAddresses decide(uint64_t msr, const mm::acpi::AcpiDevices& acpi) {
    return mm::mmio_device_addresses(msr, acpi, q35_ranges(), PhysAddr(kFramebuffer), kFramebufferSize);
}

std::string refusal_of(const mm::MmioDevice& d) { return d.refusal.ok() ? "(none)" : d.refusal.field; }

TEST(MapMmioDevices, ConsecutiveUncachedSlotsAndOneLogLineEach) {
    Tables t;
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.hpet = PhysAddr(0xFED0'0400);  // 1 KiB-aligned is allowed: the page around it is mapped
    const mm::MmioDeviceAddresses addresses = decide(0xFEE0'0900, acpi);
    EXPECT_EQ(addresses.lapic_mode, mm::LapicMode::kXApic);
    EXPECT_EQ(addresses.lapic.pa, PhysAddr(0xFEE0'0000));  // enable and BSP bits masked off
    EXPECT_FALSE(addresses.lapic_from_madt);               // the MADT agrees
    mm::MmioDevices d;
    const mm::MapResult r = mm::map_mmio_devices(t.builder, addresses, kFullCpu, &d);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped.pages_4k, 3u);
    EXPECT_EQ(d.lapic_mode, mm::LapicMode::kXApic);
    EXPECT_EQ(d.lapic, VirtAddr(kMmio));
    EXPECT_EQ(d.ioapic, VirtAddr(kMmio + 0x1000));
    EXPECT_EQ(d.hpet, VirtAddr(kMmio + 0x2400));
    EXPECT_EQ(t.at(kMmio + 0x30).pa, PhysAddr(0xFEE0'0030));
    EXPECT_EQ(t.at(kMmio + 0x2400).pa, PhysAddr(0xFED0'0400));
    for (uint64_t slot = 0; slot < 3; ++slot) EXPECT_EQ(t.at(kMmio + slot * 0x1000).flags, kUc);
    EXPECT_FALSE(t.at(kMmio + 0x3000).present);
    EXPECT_NE(g_log.find("[INFO  mmio] apic base msr=0xfee00900 enabled=yes mode=xapic madt-lapic=0xfee00000\n"),
              std::string::npos) << g_log;
    EXPECT_NE(g_log.find("[INFO  mmio] map lapic pa=0xfee00000 va=0xffffc00000000000 size=4KiB "
                         "flags=P|RW|NX|PCD|PWT type=UC\n"), std::string::npos) << g_log;
    EXPECT_NE(g_log.find("[INFO  paging] phase map_mmio_devices devices=3 bytes=12KiB pages-4k=3"), std::string::npos);
    EXPECT_EQ(g_log.find("WARN"), std::string::npos) << g_log;
}

TEST(MapMmioDevices, AbsentDevicesAreReportedAndTakeNoSlot) {
    Tables t;
    mm::MmioDevices d;
    ASSERT_TRUE(mm::map_mmio_devices(t.builder, decide(0xFEE0'0800, {}), kFullCpu, &d).ok());
    EXPECT_EQ(d.lapic, VirtAddr(kMmio));
    EXPECT_TRUE(d.ioapic.is_null() && d.hpet.is_null());
    EXPECT_FALSE(t.at(kMmio + 0x1000).present);
    EXPECT_NE(g_log.find("[INFO  mmio] ioapic absent reason=not-described\n"), std::string::npos) << g_log;
    EXPECT_NE(g_log.find("[INFO  mmio] hpet absent reason=not-described\n"), std::string::npos);
}

TEST(MapMmioDevices, WithoutNxTheDevicesStayUncached) {
    Tables t;
    mm::MmioDevices d;
    ASSERT_TRUE(mm::map_mmio_devices(t.builder, decide(0xFEE0'0800, {}), {false, false}, &d).ok());
    EXPECT_EQ(t.at(kMmio).flags, kUc & ~pte::kNoExecute);
}

// ---- the LAPIC as IA32_APIC_BASE describes it -----------------------------------------

// EN (bit 11) clear: the APIC answers nowhere; its "base" (here 0, page 0)
// must not be mapped and read as if it were one. The others still are.
TEST(MapMmioDevices, DisabledApicIsAbsentAndTheBootGoesOn) {
    Tables t;
    const mm::MmioDeviceAddresses a = decide(0x100, q35_acpi());
    EXPECT_EQ(a.lapic_mode, mm::LapicMode::kDisabled);
    EXPECT_FALSE(a.lapic.present);
    EXPECT_STREQ(a.lapic.absent, "disabled");
    EXPECT_TRUE(a.ioapic.present && a.hpet.present);
    mm::MmioDevices d;
    ASSERT_TRUE(mm::map_mmio_devices(t.builder, a, kFullCpu, &d).ok());
    EXPECT_TRUE(d.lapic.is_null());
    EXPECT_EQ(d.ioapic, VirtAddr(kMmio));  // the first slot goes to the IOAPIC
    EXPECT_EQ(d.hpet, VirtAddr(kMmio + 0x1000));
    EXPECT_NE(g_log.find("[INFO  mmio] apic base msr=0x100 enabled=no mode=disabled madt-lapic=0xfee00000\n"),
              std::string::npos) << g_log;
    EXPECT_NE(g_log.find("[INFO  mmio] lapic absent reason=disabled\n"), std::string::npos) << g_log;
    EXPECT_EQ(g_log.find("map lapic"), std::string::npos);
    EXPECT_NE(g_log.find("phase map_mmio_devices devices=2"), std::string::npos);
}

// EXTD without EN is a state the SDM calls invalid: nothing mapped either.
TEST(MapMmioDevices, ExtdWithoutEnableIsAnInvalidModeAndAbsent) {
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0500, q35_acpi());
    EXPECT_EQ(a.lapic_mode, mm::LapicMode::kInvalid);
    EXPECT_FALSE(a.lapic.present);
    EXPECT_STREQ(a.lapic.absent, "invalid-mode");
}

// x2APIC (EN and EXTD): the registers are MSRs and the page is not decoded;
// nothing is mapped, and the kernel is told to use the MSRs.
TEST(MapMmioDevices, X2ApicModeMapsNoPageAndSaysSo) {
    Tables t;
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0D00, q35_acpi());
    EXPECT_EQ(a.lapic_mode, mm::LapicMode::kX2Apic);
    EXPECT_FALSE(a.lapic.present);
    mm::MmioDevices d;
    ASSERT_TRUE(mm::map_mmio_devices(t.builder, a, kFullCpu, &d).ok());
    EXPECT_EQ(d.lapic_mode, mm::LapicMode::kX2Apic);
    EXPECT_TRUE(d.lapic.is_null());
    EXPECT_EQ(d.ioapic, VirtAddr(kMmio));
    EXPECT_NE(g_log.find("[INFO  mmio] apic base msr=0xfee00d00 enabled=yes mode=x2apic madt-lapic=0xfee00000\n"),
              std::string::npos) << g_log;
    EXPECT_NE(g_log.find("[INFO  mmio] lapic not mapped mode=x2apic access=msr\n"), std::string::npos) << g_log;
    EXPECT_EQ(g_log.find("map lapic"), std::string::npos);
    EXPECT_EQ(mm::lapic_mode_name(d.lapic_mode), std::string("x2apic"));
}

// The MADT names another base than the MSR: the MADT's is used (as Linux
// does) and both are logged, with a warning.
TEST(MapMmioDevices, MsrBaseDisagreeingWithTheMadtTakesTheMadts) {
    Tables t;
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.madt_local_apic = PhysAddr(0xFEE1'0000);
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0900, acpi);
    EXPECT_TRUE(a.lapic_from_madt);
    EXPECT_TRUE(a.lapic.present);
    EXPECT_EQ(a.lapic.pa, PhysAddr(0xFEE1'0000));
    mm::MmioDevices d;
    ASSERT_TRUE(mm::map_mmio_devices(t.builder, a, kFullCpu, &d).ok());
    EXPECT_EQ(t.at(kMmio).pa, PhysAddr(0xFEE1'0000));
    EXPECT_NE(g_log.find("[WARN  mmio] lapic base disagrees msr-base=0xfee00000 madt-lapic=0xfee10000 using=madt\n"),
              std::string::npos) << g_log;
}

TEST(MapMmioDevices, WithoutAMadtTheMsrBaseIsUsed) {
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.has_madt = false;
    acpi.madt_local_apic = PhysAddr(0xFEE1'0000);  // not believed without a MADT
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0900, acpi);
    EXPECT_FALSE(a.lapic_from_madt);
    EXPECT_EQ(a.lapic.pa, PhysAddr(0xFEE0'0000));
}

// A MADT whose address (its 64-bit override, type 5) is past what x86-64 can address.
TEST(MapMmioDevices, MadtLapicBeyondPhysicalAddressesIsRefused) {
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.madt_local_apic = PhysAddr(1ull << 52);
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0900, acpi);
    EXPECT_FALSE(a.lapic.present);
    EXPECT_EQ(refusal_of(a.lapic), "madt.local_apic_address");
    EXPECT_EQ(std::string(a.lapic.refusal.rule), "must be below 2^52");
}

// ---- device addresses checked against the memory map and each other -------------------

// An HPET "in" the kernel's own text: mapping it UC+RW would alias the image.
TEST(MapMmioDevices, HpetInRamIsRefusedByNameAndTheOthersAreMapped) {
    Tables t;
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.hpet = PhysAddr(kKernelImage + 0x1000);
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0900, acpi);
    EXPECT_FALSE(a.hpet.present);
    EXPECT_STREQ(a.hpet.absent, "refused");
    EXPECT_EQ(refusal_of(a.hpet), "hpet.address");
    EXPECT_EQ(a.hpet.refusal.value, kKernelImage + 0x1000);
    EXPECT_STREQ(a.hpet.overlaps, "kernel-image");
    mm::MmioDevices d;
    ASSERT_TRUE(mm::map_mmio_devices(t.builder, a, kFullCpu, &d).ok());
    EXPECT_TRUE(d.hpet.is_null());
    EXPECT_FALSE(d.lapic.is_null() || d.ioapic.is_null());
    EXPECT_NE(g_log.find("[WARN  mmio] hpet refused field=hpet.address value=0xe25f000 rule=\"must not lie in RAM\" "
                         "overlaps=kernel-image\n"), std::string::npos) << g_log;
    EXPECT_NE(g_log.find("[INFO  mmio] hpet absent reason=refused\n"), std::string::npos) << g_log;
    EXPECT_NE(g_log.find("phase map_mmio_devices devices=2"), std::string::npos);
}

TEST(MapMmioDevices, IoapicInRamIsRefusedByName) {
    struct Case { uint64_t address; const char* kind; };
    const Case cases[] = {
        {0x0000'1000, "usable"},
        {0x0FB6'D000, "acpi-reclaim"},
    };
    for (const Case& c : cases) {
        mm::acpi::AcpiDevices acpi = q35_acpi();
        acpi.ioapic = PhysAddr(c.address);
        const mm::MmioDeviceAddresses a = decide(0xFEE0'0900, acpi);
        EXPECT_FALSE(a.ioapic.present) << c.kind;
        EXPECT_EQ(refusal_of(a.ioapic), "madt.ioapic.address") << c.kind;
        EXPECT_EQ(a.ioapic.refusal.value, c.address);
        EXPECT_STREQ(a.ioapic.overlaps, c.kind);
        EXPECT_TRUE(a.hpet.present && a.lapic.present);
    }
}

// Memory the firmware reserved is not RAM (chapter 02): the phys window does
// not map it, so a device there has no WB alias, and firmware often describes
// device registers that way. It is mapped.
TEST(MapMmioDevices, IoapicInFirmwareReservedMemoryIsMapped) {
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.ioapic = PhysAddr(0x0FAE'D800);  // the q35 map's reserved range, write-back or not
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0900, acpi);
    EXPECT_TRUE(a.ioapic.present);
    EXPECT_EQ(refusal_of(a.ioapic), "(none)");
}

// The LAPIC from the MSR is checked too (a base relocated into RAM).
TEST(MapMmioDevices, LapicBaseInRamIsRefusedByName) {
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.has_madt = false;
    const mm::MmioDeviceAddresses a = decide(0x0020'0900, acpi);
    EXPECT_FALSE(a.lapic.present);
    EXPECT_EQ(refusal_of(a.lapic), "ia32_apic_base.base");
    EXPECT_EQ(a.lapic.refusal.value, 0x20'0000u);
    EXPECT_STREQ(a.lapic.overlaps, "usable");
}

// Device memory the map describes (type MMIO) is where devices belong.
TEST(MapMmioDevices, DeviceRangesOfTheMapAreFine) {
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.hpet = PhysAddr(0xB000'0000);
    EXPECT_TRUE(decide(0xFEE0'0900, acpi).hpet.present);
}

TEST(MapMmioDevices, OverlappingDevicesTheLaterIsRefused) {
    Tables t;
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.hpet = PhysAddr(0xFEC0'0800);  // the IOAPIC's page
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0900, acpi);
    EXPECT_TRUE(a.ioapic.present);
    EXPECT_FALSE(a.hpet.present);
    EXPECT_EQ(refusal_of(a.hpet), "hpet.address");
    EXPECT_STREQ(a.hpet.overlaps, "ioapic");
    mm::MmioDevices d;
    ASSERT_TRUE(mm::map_mmio_devices(t.builder, a, kFullCpu, &d).ok());
    EXPECT_NE(g_log.find("[WARN  mmio] hpet refused field=hpet.address value=0xfec00800 "
                         "rule=\"must not overlap another device or the framebuffer\" overlaps=ioapic\n"),
              std::string::npos) << g_log;

    acpi = q35_acpi();
    acpi.ioapic = PhysAddr(0xFEE0'0000);  // the LAPIC's page
    EXPECT_STREQ(decide(0xFEE0'0900, acpi).ioapic.overlaps, "lapic");
}

TEST(MapMmioDevices, DeviceInsideTheFramebufferIsRefused) {
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.hpet = PhysAddr(kFramebuffer + kFramebufferSize - 1);  // its last page
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0900, acpi);
    EXPECT_FALSE(a.hpet.present);
    EXPECT_STREQ(a.hpet.overlaps, "framebuffer");
    acpi.hpet = PhysAddr(kFramebuffer + kFramebufferSize + 0x1000);  // past it (the size is page-aligned)
    EXPECT_TRUE(decide(0xFEE0'0900, acpi).hpet.present);
}

// A refused device leaves its page to no one: a later device there is not
// refused for overlapping it.
TEST(MapMmioDevices, ARefusedDeviceClaimsNoPage) {
    mm::acpi::AcpiDevices acpi = q35_acpi();
    acpi.ioapic = PhysAddr(0x1000);
    acpi.hpet = PhysAddr(0x1800);
    const mm::MmioDeviceAddresses a = decide(0xFEE0'0900, acpi);
    EXPECT_STREQ(a.ioapic.overlaps, "usable");
    EXPECT_STREQ(a.hpet.overlaps, "usable");
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
    const mm::Translation small = t.at(kFb + 2 * MiB);
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

}  // namespace
