// The example chapter 04's README shows for PageTableBuilder: mapping a range
// over the fake physical memory the other host tests use, then reading it back
// with the software walk. The book quotes the region between the markers, so
// the code a reader sees is code that compiles and passes here.
#include <gtest/gtest.h>

#include "arch/x86/paging_bits.h"
#include "fake_physical_memory.h"
#include "mm/address_space_layout.h"
#include "mm/mapping_policy.h"
#include "mm/page_size.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_lookup.h"
#include "mm/virt_addr.h"

using mm::PageSize;
using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

TEST(PageTableBuilderExample, MapsThreeSmallPagesAndOneLargeOneAndTranslatesThem) {
    // book:begin map-and-translate
    // Page tables live in 8 frames of fake RAM at 16 MiB, handed out in order.
    FakePhysicalMemory memory(PhysAddr(16 * MiB), 8);
    FakeFrameSource frames(memory);
    const mm::FrameResult pml4 = mm::PageTableBuilder::create_pml4(memory, frames);
    ASSERT_TRUE(pml4.ok());
    mm::PageTableBuilder builder(pml4.frame(), memory, frames, /*cpu_has_1gib_pages=*/false);

    // RAM from 12 KiB below a 2 MiB boundary to 2 MiB past it, at the address
    // chapter 05's window on physical memory gives it: three 4 KiB pages up to
    // the boundary, then one 2 MiB page, as from there both addresses are aligned.
    const PhysAddr pa(2 * MiB - 12 * KiB);
    const VirtAddr va = mm::layout::kPhysWindowBase + pa.value();
    const mm::MapResult mapped = builder.map_range(va, pa, 12 * KiB + 2 * MiB, mm::phys_window_policy());
    ASSERT_TRUE(mapped.ok()) << mm::describe(mapped.status);
    EXPECT_EQ(mapped.mapped.pages_4k, 3u);
    EXPECT_EQ(mapped.mapped.pages_2m, 1u);
    EXPECT_EQ(mapped.mapped.tables_created, 3u);  // a PDPT, a PD and a PT

    // The software walk finds each address where it was mapped, and how.
    const mm::Translation small = mm::translate(pml4.frame(), memory, va + 8 * KiB + 0x123);
    EXPECT_TRUE(small.present);
    EXPECT_EQ(small.pa, PhysAddr(2 * MiB - 4 * KiB + 0x123));  // the third small page
    EXPECT_EQ(small.page_size, PageSize::k4KiB);
    EXPECT_EQ(small.flags, pte::kPresent | pte::kWritable | pte::kNoExecute);

    const mm::Translation large = mm::translate(pml4.frame(), memory, va + 12 * KiB + 1 * MiB);
    EXPECT_TRUE(large.present);
    EXPECT_EQ(large.pa, PhysAddr(3 * MiB));
    EXPECT_EQ(large.page_size, PageSize::k2MiB);
    EXPECT_EQ(large.flags, pte::kPresent | pte::kWritable | pte::kNoExecute | pte::kHugePage);

    // Nothing below the range or past its end is mapped.
    EXPECT_FALSE(mm::translate(pml4.frame(), memory, VirtAddr(va.value() - 1)).present);
    EXPECT_FALSE(mm::translate(pml4.frame(), memory, va + 12 * KiB + 2 * MiB).present);
    // book:end map-and-translate
}
