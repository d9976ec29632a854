// Chapter 02's library: MemoryDescriptorView, validate_handoff, MemoryRangeList.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "mm/boot_memory.h"
#include "mm/handoff_validation.h"
#include "memory_map_builder.h"
#include "mm/memory_map_log.h"
#include "mm/memory_ranges.h"
#include "support/log.h"

using boot::EfiMemoryType;
using mm::PhysAddr;
using mm::RangeKind;

namespace {

Violation validate(const boot::BootHandoff& h, const FakeMemoryMap& map) { return mm::validate_handoff(h, map.bytes.data()); }

FakeMemoryMap small_machine() {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x100000, 0x100)             // 1 MiB .. 2 MiB
        .add(EfiMemoryType::kKernelImage, 0x200000, 0x10)
        .add(EfiMemoryType::kBootServicesData, 0x210000, 0xF0)
        .add(EfiMemoryType::kAcpiReclaim, 0x0, 0x10)                   // unsorted on purpose
        .add(EfiMemoryType::kReserved, 0xB0000000, 0x10000, boot::kEfiMemoryUc);  // PCIe ECAM: not RAM
    return map;
}

}  // namespace

TEST(MemoryDescriptorView, StridesByTheFirmwaresDescriptorSize) {
    for (uint32_t stride : {40u, 48u, 64u}) {
        FakeMemoryMap map(stride);
        map.add(EfiMemoryType::kConventional, 0x1000, 1).add(EfiMemoryType::kAcpiNvs, 0x5000, 2, 0xF);
        const mm::MemoryDescriptorView view = map.view();
        ASSERT_EQ(view.count(), 2u) << "stride " << stride;
        EXPECT_EQ(view.at(1).type(), EfiMemoryType::kAcpiNvs);
        EXPECT_EQ(view.at(1).physical_start(), PhysAddr(0x5000));
        EXPECT_EQ(view.at(1).pages(), 2u);
        EXPECT_EQ(view.at(1).attributes(), 0xFu);
        EXPECT_STREQ(view.at(1).type_name(), "acpi-nvs");
    }
}

TEST(MemoryDescriptorView, IteratesEveryDescriptorOnce) {
    const FakeMemoryMap map = small_machine();
    size_t seen = 0;
    for (auto it = map.view().begin(); it != map.view().end(); ++it) EXPECT_EQ(it.index(), seen++);
    EXPECT_EQ(seen, 5u);
}

TEST(MemoryDescriptorView, IndexIsBoundsChecked) {
    const FakeMemoryMap map = small_machine();
    EXPECT_DEATH((void)map.view().at(5), "index < count_");
}

TEST(MemoryDescriptorView, EndReportsOverflow) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0xFFFF'FFFF'FFFF'0000ull, 0x100);
    PhysAddr end;
    EXPECT_FALSE(map.view().at(0).end(&end));
}

TEST(HandoffValidation, AcceptsAWellFormedMap) {
    const FakeMemoryMap map = small_machine();
    EXPECT_TRUE(validate(map.handoff(), map).ok());
}

TEST(HandoffValidation, NamesTheBrokenHeaderField) {
    const FakeMemoryMap map = small_machine();
    boot::BootHandoff h = map.handoff();
    h.magic = 0x1234;
    EXPECT_STREQ(validate(h, map).field, "magic");
    h = map.handoff();
    h.version = 7;
    EXPECT_STREQ(validate(h, map).field, "version");
    h = map.handoff();
    h.size = 100;
    EXPECT_STREQ(validate(h, map).field, "size");
}

struct GeometryCase {
    const char* name;
    void (*damage)(boot::BootHandoff&);
    const char* field;
    const char* rule_fragment;
};

TEST(HandoffValidation, RejectsBadMapGeometryWithANamedRule) {
    const GeometryCase cases[] = {
        {"null map", [](boot::BootHandoff& h) { h.memory_map = 0; }, "memory_map", "must not be null"},
        {"descriptor too small", [](boot::BootHandoff& h) { h.descriptor_size = 24; }, "descriptor_size", "at least 40"},
        {"descriptor not 8-aligned", [](boot::BootHandoff& h) { h.descriptor_size = 44; }, "descriptor_size", "multiple of 8"},
        {"descriptor version", [](boot::BootHandoff& h) { h.descriptor_version = 2; }, "descriptor_version", "must be 1"},
        {"empty map", [](boot::BootHandoff& h) { h.memory_map_size = 0; }, "memory_map_size", "at least one"},
        {"size not a multiple", [](boot::BootHandoff& h) { h.memory_map_size -= 8; }, "memory_map_size", "multiple of descriptor_size"},
        {"size beyond capacity", [](boot::BootHandoff& h) { h.memory_map_capacity -= 48; }, "memory_map_size", "capacity"},
        {"too many descriptors",
         [](boot::BootHandoff& h) { h.memory_map_size = h.memory_map_capacity = 48 * (mm::kMaxMemoryDescriptors + 1); },
         "memory_map_size", "at most"},
        {"buffer beyond 2^52", [](boot::BootHandoff& h) { h.memory_map = 1ull << 52; }, "memory_map", "2^52"},
    };
    const FakeMemoryMap map = small_machine();
    for (const GeometryCase& c : cases) {
        boot::BootHandoff h = map.handoff();
        c.damage(h);
        const Violation v = validate(h, map);
        ASSERT_FALSE(v.ok()) << c.name;
        EXPECT_STREQ(v.field, c.field) << c.name;
        EXPECT_NE(std::string(v.rule).find(c.rule_fragment), std::string::npos) << c.name << ": " << v.rule;
        EXPECT_FALSE(v.has_index()) << c.name;
    }
}

TEST(HandoffValidation, RejectsBadDescriptorsAndNamesTheirIndex) {
    FakeMemoryMap misaligned = small_machine();
    misaligned.add(EfiMemoryType::kConventional, 0x300800, 1);
    Violation v = validate(misaligned.handoff(), misaligned);
    EXPECT_STREQ(v.field, "descriptor.physical_start");
    EXPECT_EQ(v.value, 0x300800u);
    EXPECT_EQ(v.index, 5u);

    FakeMemoryMap empty = small_machine();
    empty.add(EfiMemoryType::kConventional, 0x300000, 0);
    EXPECT_STREQ(validate(empty.handoff(), empty).field, "descriptor.number_of_pages");

    FakeMemoryMap wraps = small_machine();
    wraps.add(EfiMemoryType::kConventional, 0xFFFF'FFFF'FFFF'0000ull, 0x100);
    v = validate(wraps.handoff(), wraps);
    EXPECT_STREQ(v.field, "descriptor.number_of_pages");
    EXPECT_EQ(v.index, 5u);

    FakeMemoryMap beyond = small_machine();
    beyond.add(EfiMemoryType::kConventional, (1ull << 52) - 0x1000, 2);
    EXPECT_STREQ(validate(beyond.handoff(), beyond).field, "descriptor.number_of_pages");
}

TEST(HandoffValidation, RejectsOverlapsWhereverTheyAre) {
    FakeMemoryMap inside = small_machine();
    inside.add(EfiMemoryType::kConventional, 0x180000, 1);  // within the first descriptor
    Violation v = validate(inside.handoff(), inside);
    EXPECT_STREQ(v.field, "descriptor.physical_start");
    EXPECT_NE(std::string(v.rule).find("overlap"), std::string::npos);
    EXPECT_EQ(v.index, 5u);

    FakeMemoryMap straddles = small_machine();
    straddles.add(EfiMemoryType::kConventional, 0xF0000, 0x20);  // starts before, ends inside
    EXPECT_FALSE(validate(straddles.handoff(), straddles).ok());

    FakeMemoryMap touching = small_machine();
    touching.add(EfiMemoryType::kConventional, 0x300000, 0x10);  // begins where another ends: fine
    EXPECT_TRUE(validate(touching.handoff(), touching).ok());
}

TEST(MemoryRangeList, SortsClassifiesAndMergesNeighboursOfOneKind) {
    const FakeMemoryMap map = small_machine();
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    ASSERT_EQ(ranges.count(), 5u);
    EXPECT_EQ(ranges[0].kind, RangeKind::kAcpiReclaim);
    EXPECT_EQ(ranges[1].start, PhysAddr(0x100000));
    EXPECT_EQ(ranges[1].end, PhysAddr(0x200000));
    EXPECT_EQ(ranges[2].kind, RangeKind::kKernelImage);
    EXPECT_EQ(ranges[3].kind, RangeKind::kUsable);  // boot-services data is free after ExitBootServices
    // The UC-only reserved range is device memory: listed, but not RAM.
    EXPECT_EQ(ranges[4].kind, RangeKind::kDevice);
    EXPECT_EQ(ranges.ram_bytes(), 0x10000u + 0x200000u);
    EXPECT_EQ(ranges.ram_end(), PhysAddr(0x300000));
}

TEST(MemoryRangeList, KeepsDeviceRangesAndMergesAcrossInsertionOrder) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x3000, 1)
        .add(EfiMemoryType::kConventional, 0x1000, 1)
        .add(EfiMemoryType::kLoaderData, 0x2000, 1)  // joins both neighbours
        .add(EfiMemoryType::kReserved, 0xB0000000, 16, boot::kEfiMemoryUc)
        .add(EfiMemoryType::kMmio, 0xFFC00000, 16, boot::kEfiMemoryUc | boot::kEfiMemoryRuntime)
        .add(EfiMemoryType::kReserved, 0x5000, 1, 0xF)
        .add(EfiMemoryType(0x70000001), 0x6000, 1, 0xF);  // OEM type: never usable, never RAM
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    ASSERT_EQ(ranges.count(), 4u);
    EXPECT_EQ(ranges[0].start, PhysAddr(0x1000));
    EXPECT_EQ(ranges[0].end, PhysAddr(0x4000));
    EXPECT_EQ(ranges[1].kind, RangeKind::kReserved);
    EXPECT_EQ(ranges[1].end, PhysAddr(0x7000));
    EXPECT_EQ(ranges[2].kind, RangeKind::kDevice);
    EXPECT_EQ(ranges[3].kind, RangeKind::kDevice);
    EXPECT_EQ(ranges.total_bytes(mm::RangeClass::kUsable), 3 * kPageSize);
    // Reserved memory is listed, but it is not RAM: only the usable pages count.
    EXPECT_EQ(ranges.total_bytes(mm::RangeClass::kReserved), 2 * kPageSize);
    EXPECT_EQ(ranges.ram_bytes(), 3 * kPageSize);
    EXPECT_EQ(ranges.ram_end(), PhysAddr(0x4000));
    EXPECT_EQ(ranges.find(PhysAddr(0x2FFF)), &ranges[0]);
    EXPECT_EQ(ranges.find(PhysAddr(0x4000)), nullptr);
}

namespace {

mm::DescriptorKind classify(EfiMemoryType type, uint64_t attributes) {
    FakeMemoryMap map;
    map.add(type, 0x100000, 1, attributes);
    return mm::classify_descriptor(map.view().at(0));
}

constexpr uint64_t kWb = boot::kEfiMemoryWb;
constexpr uint64_t kEveryCacheability = 0xF;  // UC | WC | WT | WB, as OVMF sets on RAM

}  // namespace

TEST(RangeKind, EveryRamTypeWithWbIsItsOwnKindOfRam) {
    const std::pair<EfiMemoryType, RangeKind> ram[] = {
        {EfiMemoryType::kConventional, RangeKind::kUsable},
        {EfiMemoryType::kLoaderCode, RangeKind::kLoaderCode},
        {EfiMemoryType::kLoaderData, RangeKind::kUsable},
        {EfiMemoryType::kBootServicesCode, RangeKind::kUsable},
        {EfiMemoryType::kBootServicesData, RangeKind::kUsable},
        {EfiMemoryType::kAcpiReclaim, RangeKind::kAcpiReclaim},
        {EfiMemoryType::kAcpiNvs, RangeKind::kAcpiNvs},
        {EfiMemoryType::kRuntimeServicesCode, RangeKind::kFirmwareRuntime},
        {EfiMemoryType::kRuntimeServicesData, RangeKind::kFirmwareRuntime},
        {EfiMemoryType::kKernelImage, RangeKind::kKernelImage},
        {EfiMemoryType::kBootHandoff, RangeKind::kBootHandoff},
        {EfiMemoryType::kBootPageTables, RangeKind::kBootPageTables},
        {EfiMemoryType::kBootStack, RangeKind::kBootStack},
    };
    for (const auto& [type, kind] : ram) {
        for (uint64_t attributes : {kWb, kEveryCacheability, kEveryCacheability | boot::kEfiMemoryRuntime}) {
            const mm::DescriptorKind got = classify(type, attributes);
            EXPECT_EQ(got.kind, kind) << boot::memory_type_name(uint32_t(type)) << " " << attributes;
            EXPECT_EQ(got.refusal, nullptr) << boot::memory_type_name(uint32_t(type));
            EXPECT_TRUE(mm::is_ram_class(mm::range_class(got.kind)));
        }
    }
}

TEST(RangeKind, UnusablePersistentReservedAndUnknownTypesAreNeverRam) {
    // Whatever their attributes: a WB attribute makes none of them RAM.
    const EfiMemoryType never_ram[] = {EfiMemoryType::kReserved,   EfiMemoryType::kUnusable,
                                       EfiMemoryType::kPersistent, EfiMemoryType::kPalCode,
                                       EfiMemoryType::kUnaccepted, EfiMemoryType(16),
                                       EfiMemoryType(0x70000001),  EfiMemoryType(0x80000005)};
    for (EfiMemoryType type : never_ram) {
        for (uint64_t attributes : {kWb, kEveryCacheability, kEveryCacheability | boot::kEfiMemoryRuntime,
                                    boot::kEfiMemoryUc, uint64_t(0)}) {
            const mm::DescriptorKind got = classify(type, attributes);
            EXPECT_FALSE(mm::is_ram_class(mm::range_class(got.kind)))
                << uint32_t(type) << " attributes " << attributes << " became " << mm::range_kind_name(got.kind);
            // Cacheable memory is the firmware's (reserved); the rest is device memory, as before.
            EXPECT_EQ(got.kind, (attributes & kWb) ? RangeKind::kReserved : RangeKind::kDevice) << uint32_t(type);
        }
    }
    // Only the types the kernel does not know are refused, by name; the others are not news.
    EXPECT_EQ(classify(EfiMemoryType::kUnusable, kWb).refusal, nullptr);
    EXPECT_EQ(classify(EfiMemoryType::kPersistent, kWb).refusal, nullptr);
    EXPECT_STREQ(classify(EfiMemoryType(0x70000001), kWb).refusal, mm::kRefusedUnknownType);
    EXPECT_STREQ(classify(EfiMemoryType(16), boot::kEfiMemoryUc).refusal, mm::kRefusedUnknownType);
    // MMIO stays device memory, even where the firmware lets it be cached.
    EXPECT_EQ(classify(EfiMemoryType::kMmio, kEveryCacheability).kind, RangeKind::kDevice);
    EXPECT_EQ(classify(EfiMemoryType::kMmioPortSpace, kWb).kind, RangeKind::kDevice);
}

TEST(RangeKind, RamTypeWithoutWbIsRefusedByName) {
    for (EfiMemoryType type : {EfiMemoryType::kConventional, EfiMemoryType::kBootServicesData,
                               EfiMemoryType::kAcpiReclaim, EfiMemoryType::kRuntimeServicesCode}) {
        for (uint64_t attributes : {boot::kEfiMemoryUc, boot::kEfiMemoryUc | boot::kEfiMemoryWt,
                                    boot::kEfiMemoryUc | boot::kEfiMemoryRuntime, uint64_t(0)}) {
            const mm::DescriptorKind got = classify(type, attributes);
            EXPECT_EQ(got.kind, RangeKind::kReserved) << boot::memory_type_name(uint32_t(type)) << " " << attributes;
            EXPECT_STREQ(got.refusal, mm::kRefusedRamWithoutWb);
        }
    }
}

TEST(RangeKind, AcpiNvsWithUcOnlyIsNotRam) {
    // OVMF's ACPI NVS is WB-capable (attributes 0xf); a firmware that allows
    // only UC cannot have it mapped WB in the window, so it is not RAM.
    EXPECT_EQ(classify(EfiMemoryType::kAcpiNvs, kEveryCacheability).kind, RangeKind::kAcpiNvs);
    const mm::DescriptorKind uc = classify(EfiMemoryType::kAcpiNvs, boot::kEfiMemoryUc);
    EXPECT_EQ(uc.kind, RangeKind::kReserved);
    EXPECT_STREQ(uc.refusal, mm::kRefusedRamWithoutWb);
    const mm::DescriptorKind runtime_uc =
        classify(EfiMemoryType::kRuntimeServicesData, boot::kEfiMemoryUc | boot::kEfiMemoryRuntime);
    EXPECT_EQ(runtime_uc.kind, RangeKind::kReserved);

    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x100000, 0x100)
        .add(EfiMemoryType::kAcpiNvs, 0x200000, 0x10, boot::kEfiMemoryUc)
        .add(EfiMemoryType::kConventional, 0x210000, 0x10);
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    ASSERT_EQ(ranges.count(), 3u);
    EXPECT_EQ(ranges[1].kind, RangeKind::kReserved);
    EXPECT_EQ(ranges.ram_bytes(), 0x110u * kPageSize);
    EXPECT_EQ(ranges.total_bytes(mm::RangeClass::kReserved), 0x10u * kPageSize);
}

TEST(MemoryRangeList, ReportsWhenRangesDoNotFit) {
    FakeMemoryMap map;
    // Alternate kinds so that nothing merges.
    for (uint64_t i = 0; i <= mm::MemoryRangeList::kCapacity; ++i)
        map.add(i % 2 ? EfiMemoryType::kAcpiNvs : EfiMemoryType::kConventional, i * kPageSize, 1);
    static mm::MemoryRangeList ranges;
    const Violation v = ranges.build(map.view());
    EXPECT_STREQ(v.field, "memory_map");
    EXPECT_EQ(v.index, mm::MemoryRangeList::kCapacity);
}

TEST(LoaderObjects, MustLieWhollyInTheirOwnKind) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kKernelImage, 0x200000, 0x10)
        .add(EfiMemoryType::kBootHandoff, 0x300000, 3)
        .add(EfiMemoryType::kBootPageTables, 0x400000, 4)
        .add(EfiMemoryType::kBootStack, 0x500000, 16)
        .add(EfiMemoryType::kConventional, 0x510000, 16);
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    boot::BootHandoff h{};
    h.kernel_physical_base = 0x200000;
    h.kernel_size = 0x10000;
    h.memory_map = 0x300000;
    h.memory_map_capacity = 0x2000;
    h.bootstrap_pml4 = 0x401000;
    h.boot_stack_base = 0x500000;
    h.boot_stack_size = 0x10000;
    mm::LoaderObject objects[mm::kLoaderObjectCount];
    mm::list_loader_objects(h, PhysAddr(0x302000), objects);
    EXPECT_TRUE(mm::check_loader_objects(objects, ranges).ok());

    h.boot_stack_size = 0x11000;  // one page into free memory
    mm::list_loader_objects(h, PhysAddr(0x302000), objects);
    Violation v = mm::check_loader_objects(objects, ranges);
    EXPECT_STREQ(v.field, "boot-stack");

    h.boot_stack_size = 0x10000;
    mm::list_loader_objects(h, PhysAddr(0x200000), objects);  // "handoff" inside the kernel image
    v = mm::check_loader_objects(objects, ranges);
    EXPECT_STREQ(v.field, "handoff");
}

namespace {
std::string g_log;
void capture(klog::Level, const char* text, size_t length) { g_log.append(text, length); }
}  // namespace

TEST(MemoryMapLog, RefusedDescriptorsAreLoggedByNumberAndRule) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x100000, 0x10)
        .add(EfiMemoryType(0x70000001), 0x200000, 1, 0xF)
        .add(EfiMemoryType::kAcpiNvs, 0x300000, 2, boot::kEfiMemoryUc)
        .add(EfiMemoryType::kUnusable, 0x400000, 1, 0xF)  // not RAM, but nothing to refuse
        .add(EfiMemoryType::kReserved, 0xB0000000, 0x10, boot::kEfiMemoryUc);
    g_log.clear();
    klog::set_sink(capture);
    const uint64_t refused = mm::log_refused_descriptors(map.view());
    klog::set_sink(nullptr);
    EXPECT_EQ(refused, 2u);
    EXPECT_EQ(g_log,
              "[WARN  memmap] not ram index=1 type=0x70000001 name=oem-defined start=0x200000 end=0x201000 "
              "attributes=0xf kind=reserved rule=\"an unknown memory type is not RAM, whatever its attributes\"\n"
              "[WARN  memmap] not ram index=2 type=0xa name=acpi-nvs start=0x300000 end=0x302000 attributes=0x1 "
              "kind=reserved rule=\"a RAM type must allow write-back caching (EFI_MEMORY_WB) to be mapped as RAM\"\n");
}

TEST(MemoryMapLog, RejectionLineNamesFieldValueRuleAndIndex) {
    g_log.clear();
    klog::set_sink(capture);
    mm::log_rejection("memmap", "handoff", reject("descriptor_size", 24, "must be at least 40", 3));
    klog::set_sink(nullptr);
    EXPECT_EQ(g_log, "[ERROR memmap] handoff rejected field=descriptor_size value=0x18 rule=\"must be at least 40\" index=3\n");
}

// ---- the framebuffer set aside (MemoryRangeList::set_aside, set_aside_framebuffer) ------------

namespace {

std::vector<std::tuple<uint64_t, uint64_t, RangeKind>> kinds_of(const mm::MemoryRangeList& ranges) {
    std::vector<std::tuple<uint64_t, uint64_t, RangeKind>> out;
    for (const mm::MemoryRange& r : ranges) out.emplace_back(r.start.value(), r.end.value(), r.kind);
    return out;
}

}  // namespace

TEST(SetAside, AFramebufferInUsableRamAcrossADescriptorEdgeBecomesItsOwnKindAndIsLoggedOnce) {
    namespace fb = framebuffer_in_ram;
    const FakeMemoryMap map = fb::map();
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    ASSERT_EQ(ranges.count(), 1u);  // conventional and boot-services data: one usable range
    ASSERT_TRUE(mm::set_aside_framebuffer(fb::handoff(map), &ranges).ok());
    // Cut out whole pages, widened from the unaligned base, on both sides of the old descriptor edge.
    const std::vector<std::tuple<uint64_t, uint64_t, RangeKind>> expected = {
        {0x10'0000, fb::kFirstFrame, RangeKind::kUsable},
        {fb::kFirstFrame, fb::kEnd, RangeKind::kFramebuffer},
        {fb::kEnd, fb::kRamEnd, RangeKind::kUsable}};
    EXPECT_EQ(kinds_of(ranges), expected);
    EXPECT_EQ(ranges.total_bytes(mm::RangeClass::kUsable), fb::kRamEnd - 0x10'0000 - (fb::kEnd - fb::kFirstFrame));
    EXPECT_EQ(ranges.ram_bytes(), ranges.total_bytes(mm::RangeClass::kUsable));  // not RAM any more
    ASSERT_EQ(ranges.set_aside_count(), 1u);
    EXPECT_EQ(ranges.set_aside_at(0).ram_bytes, fb::kEnd - fb::kFirstFrame);
    g_log.clear();
    klog::set_sink(capture);
    mm::log_ranges(ranges);
    klog::set_sink(nullptr);
    EXPECT_NE(g_log.find("kind=framebuffer        start=0x7ff000"), std::string::npos) << g_log;
    EXPECT_NE(g_log.find("[INFO  memmap] set aside what=framebuffer start=0x7ff000 end=0xb00000 size=3076KiB "
                         "was=usable ram=3076KiB reason=\"mapped write-combining by its own phase only: never RAM, "
                         "never handed out\"\n"),
              std::string::npos)
        << g_log;
}

TEST(SetAside, AFramebufferAcrossUsableAndReservedCountsOnlyTheUsablePartAsRamTaken) {
    FakeMemoryMap map;
    map.add(EfiMemoryType::kConventional, 0x10'0000, 0x100)  // [1 MiB, 2 MiB)
        .add(EfiMemoryType::kReserved, 0x20'0000, 0x100);    // [2 MiB, 3 MiB), WB: reserved
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    ASSERT_TRUE(ranges.set_aside(PhysAddr(0x1F'0000), 0x2'0000, RangeKind::kFramebuffer, "framebuffer_base").ok());
    const std::vector<std::tuple<uint64_t, uint64_t, RangeKind>> expected = {
        {0x10'0000, 0x1F'0000, RangeKind::kUsable},
        {0x1F'0000, 0x21'0000, RangeKind::kFramebuffer},
        {0x21'0000, 0x30'0000, RangeKind::kReserved}};
    EXPECT_EQ(kinds_of(ranges), expected);
    EXPECT_EQ(ranges.set_aside_at(0).ram_bytes, 0x1'0000u);
    g_log.clear();
    klog::set_sink(capture);
    mm::log_set_aside(ranges.set_aside_at(0));
    klog::set_sink(nullptr);
    EXPECT_NE(g_log.find(" was=usable+reserved ram=64KiB "), std::string::npos) << g_log;
}

TEST(SetAside, AFramebufferTheMapDoesNotDescribeChangesNoRangeButIsStillLogged) {
    // QEMU's VGA card: the framebuffer is a PCI BAR, outside every descriptor.
    const FakeMemoryMap map = small_machine();
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    const auto before = kinds_of(ranges);
    boot::BootHandoff h = map.handoff();
    h.framebuffer_base = 0x8000'0000;
    h.framebuffer_size = 0x30'0000;
    ASSERT_TRUE(mm::set_aside_framebuffer(h, &ranges).ok());
    EXPECT_EQ(kinds_of(ranges), before);
    g_log.clear();
    klog::set_sink(capture);
    mm::log_set_aside(ranges.set_aside_at(0));
    klog::set_sink(nullptr);
    EXPECT_NE(g_log.find("start=0x80000000 end=0x80300000 size=3MiB was=undescribed ram=0B "), std::string::npos)
        << g_log;
}

TEST(SetAside, NoFramebufferOrANullBaseSetsNothingAside) {
    const FakeMemoryMap map = small_machine();
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    boot::BootHandoff h = map.handoff();
    h.framebuffer_size = 0x30'0000;  // a GOP without a linear framebuffer: base 0
    ASSERT_TRUE(mm::set_aside_framebuffer(h, &ranges).ok());
    EXPECT_EQ(ranges.set_aside_count(), 0u);
}

TEST(SetAside, RefusesLoaderOwnedOrFirmwareMemoryAndThePhysicalLimitByName) {
    const FakeMemoryMap map = small_machine();  // kernel image [2 MiB, 2 MiB + 64 KiB), ACPI reclaim [0, 64 KiB)
    for (const uint64_t base : {uint64_t(0x20'8000), uint64_t(0x8000)}) {
        mm::MemoryRangeList ranges;
        ASSERT_TRUE(ranges.build(map.view()).ok());
        const auto before = kinds_of(ranges);
        boot::BootHandoff h = map.handoff();
        h.framebuffer_base = base;
        h.framebuffer_size = 0x1'0000;
        const Violation v = mm::set_aside_framebuffer(h, &ranges);
        EXPECT_STREQ(v.field, "framebuffer_base");
        EXPECT_EQ(v.value, base);
        EXPECT_STREQ(v.rule, mm::kRefusedSetAside);
        EXPECT_EQ(kinds_of(ranges), before) << "all or nothing";
    }
    mm::MemoryRangeList ranges;
    ASSERT_TRUE(ranges.build(map.view()).ok());
    const Violation past = ranges.set_aside(PhysAddr(PhysAddr::kLimit - 0x1000), 0x2000, RangeKind::kFramebuffer,
                                            "framebuffer_base");
    EXPECT_STREQ(past.rule, "must end below the physical address limit");
}

TEST(SetAside, LoadBootMemoryRefusesAFramebufferOverTheKernelImage) {
    FakeMemoryMap map = small_machine();
    boot::BootHandoff h = map.handoff();
    h.framebuffer_base = 0x20'0000;
    h.framebuffer_size = 0x1000;
    mm::BootMemory memory;
    const Violation v = mm::load_boot_memory(h, PhysAddr(0x10'0000), map.bytes.data(), &memory);
    EXPECT_STREQ(v.field, "framebuffer_base");
}
