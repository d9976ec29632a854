// The two mapping phases of chapter 04 over a fake physical memory: what they
// map, with which pages and rights, and what they leave out.
#include <gtest/gtest.h>

#include "boot/uefi_memory.h"
#include "fake_physical_memory.h"
#include "mm/identity_map.h"
#include "mm/kernel_image_map.h"
#include "memory_map_builder.h"
#include "mm/page_table_lookup.h"

namespace {

using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

constexpr mm::CpuPagingFeatures kFullCpu = {true, true};

struct Tables {
    FakePhysicalMemory memory{PhysAddr(0x7000'0000), 64};
    FakeFrameSource frames{memory};
    mm::PageTableBuilder builder{mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, /*cpu_has_1gib_pages=*/true};

    mm::Translation at(uint64_t va) { return mm::translate(builder.root(), memory, VirtAddr(va)); }
};

mm::MemoryRangeList ranges_of(const FakeMemoryMap& map) {
    mm::MemoryRangeList ranges;
    EXPECT_TRUE(ranges.build(map.view()).ok());
    return ranges;
}

TEST(IdentityMapLowMemory, MapsRamButNotPageZeroNorDevices) {
    FakeMemoryMap map;
    map.add(boot::EfiMemoryType::kConventional, 0, 0xA0)                  // [0, 640 KiB)
        .add(boot::EfiMemoryType::kConventional, 0x10'0000, 0x3F00)       // [1 MiB, 64 MiB)
        .add(boot::EfiMemoryType::kMmio, 0x400'0000, 0x200, 0)        // [64 MiB, 66 MiB): device
        .add(boot::EfiMemoryType::kAcpiReclaim, 0x420'0000, 0x200);       // [66 MiB, 68 MiB)
    Tables t;
    const mm::MapResult r = mm::identity_map_low_memory(t.builder, ranges_of(map), mm::FrameExceptions{}, kFullCpu);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(t.at(0).present);
    EXPECT_FALSE(t.at(0x400'0000).present);  // the device range
    const mm::Translation low = t.at(0x1000);
    EXPECT_TRUE(low.present && low.pa == PhysAddr(0x1000) && low.page_size == mm::PageSize::k4KiB);
    EXPECT_EQ(low.flags, mm::leaf_flags::kIdentityLowMemory);
    const mm::Translation high = t.at(0x420'1234);
    EXPECT_TRUE(high.present && high.pa == PhysAddr(0x420'1234) && high.page_size == mm::PageSize::k2MiB);
    // [4K, 640K): 159 pages; [1M, 2M): 256 pages; [2M, 64M): 31 large; [66M, 68M): 1 large.
    EXPECT_EQ(r.mapped.pages_4k, 159u + 256u);
    EXPECT_EQ(r.mapped.pages_2m, 31u + 1u);
    EXPECT_EQ(r.mapped.pages_1g, 0u);
}

TEST(IdentityMapLowMemory, WithoutNxNoEntryCarriesBit63) {
    FakeMemoryMap map;
    map.add(boot::EfiMemoryType::kConventional, 0x10'0000, 0x100);
    Tables t;
    ASSERT_TRUE(mm::identity_map_low_memory(t.builder, ranges_of(map), mm::FrameExceptions{}, {false, false}).ok());
    EXPECT_EQ(t.at(0x10'0000).flags, pte::kPresent | pte::kWritable);
}

TEST(MapKernelImage, MapsFourSpansAndLeavesTheGuardsOut) {
    using namespace mm::kernel_image_example;
    Tables t;
    const mm::MapResult r = mm::map_kernel_image(t.builder, kLayout, kPlacement, kFullCpu);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped.pages_4k, 7u);  // 3 text + 1 rodata + 1 data + 2 stack
    const mm::Translation text = t.at(kBase + 0x1000);
    EXPECT_TRUE(text.present && text.pa == PhysAddr(0x100'0000) && text.flags == mm::leaf_flags::kKernelText);
    EXPECT_EQ(t.at(kBase + 0x4000).flags, mm::leaf_flags::kKernelRodata);
    EXPECT_EQ(t.at(kBase + 0x5000).flags, mm::leaf_flags::kKernelData);
    EXPECT_EQ(t.at(kBase + 0x7000).pa, PhysAddr(0x100'6000));
    for (uint64_t guard : {kBase, kBase + 0x6000, kBase + 0x9000}) EXPECT_FALSE(t.at(guard).present) << std::hex << guard;
}

TEST(MapKernelImage, MappingTwiceIsRefusedAndChangesNothing) {
    using namespace mm::kernel_image_example;
    Tables t;
    ASSERT_TRUE(mm::map_kernel_image(t.builder, kLayout, kPlacement, kFullCpu).ok());
    const auto before = t.memory.snapshot();
    const mm::MapResult again = mm::map_kernel_image(t.builder, kLayout, kPlacement, kFullCpu);
    EXPECT_EQ(again.status, mm::MapStatus::kAlreadyMapped);
    EXPECT_EQ(again.where, VirtAddr(kBase + 0x1000));
    EXPECT_EQ(t.memory.snapshot(), before);
}

}  // namespace
