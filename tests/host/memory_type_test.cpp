// Chapter 06's memory types: the PAT value, cache_bits() per page size, the
// MMIO and framebuffer policies, and what PageTableBuilder writes for them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_physical_memory.h"
#include "mm/mapping_log.h"
#include "mm/mapping_policy.h"
#include "mm/memory_type.h"
#include "mm/memory_type_change.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_lookup.h"

namespace {

using mm::MemoryType;
using mm::PageSize;
using mm::PageTableLevel;
using mm::PhysAddr;
using mm::VirtAddr;
namespace pte = x86::pte;

TEST(PatValue, KeepsPowerOnEntriesExceptPa4) {
    for (unsigned i = 0; i < 8; ++i) {
        if (i == 4) continue;
        EXPECT_EQ(mm::pat::entry(mm::kPatValue, i), mm::pat::entry(mm::kPatPowerOnValue, i)) << "PA" << i;
    }
    EXPECT_EQ(mm::pat::entry(mm::kPatValue, 4), mm::pat::kWriteCombining);
    EXPECT_EQ(mm::kPatValue, 0x0007040100070406ull);
}

TEST(CacheBits, EveryTypeSelectsItsPatEntryAtEverySize) {
    struct Case { MemoryType type; uint8_t encoding; };
    for (const Case c : {Case{MemoryType::kNormal, mm::pat::kWriteBack}, Case{MemoryType::kDevice, mm::pat::kUncacheable},
                         Case{MemoryType::kWriteCombining, mm::pat::kWriteCombining}}) {
        for (PageSize size : {PageSize::k4KiB, PageSize::k2MiB, PageSize::k1GiB}) {
            const uint64_t bits = mm::cache_bits(c.type, size);
            EXPECT_EQ(bits & ~mm::kCacheBitsMask, 0u);
            EXPECT_EQ(mm::pat::entry(mm::kPatValue, mm::pat_index(bits, size)), c.encoding)
                << mm::name(c.type) << " at " << mm::name(size);
        }
    }
}

TEST(CacheBits, PatBitMovesWithThePageSize) {
    EXPECT_EQ(mm::cache_bits(MemoryType::kWriteCombining, PageSize::k4KiB), pte::kPat4K);
    EXPECT_EQ(mm::cache_bits(MemoryType::kWriteCombining, PageSize::k2MiB), pte::kPatHuge);
    EXPECT_EQ(mm::cache_bits(MemoryType::kDevice, PageSize::k4KiB), pte::kCacheDisable | pte::kWriteThrough);
    EXPECT_EQ(mm::cache_bits(MemoryType::kNormal, PageSize::k1GiB), 0u);
}

TEST(MmioPolicies, DeriveFromKernelDataAndOnlyAddAMemoryType) {
    EXPECT_EQ(mm::kMmioPolicy.leaf_flags, mm::leaf_flags::kKernelData);
    EXPECT_EQ(mm::kFramebufferPolicy.leaf_flags, mm::leaf_flags::kKernelData);
    EXPECT_EQ(mm::kMmioPolicy.max_page_size, PageSize::k4KiB);
    EXPECT_EQ(mm::kFramebufferPolicy.max_page_size, PageSize::k2MiB);
    EXPECT_EQ(mm::flags_text(mm::leaf_entry_flags(mm::kMmioPolicy, PageSize::k4KiB)).text,
              std::string("P|RW|NX|PCD|PWT"));
    EXPECT_EQ(mm::flags_text(mm::leaf_entry_flags(mm::kFramebufferPolicy, PageSize::k4KiB)).text,
              std::string("P|RW|NX|PAT"));
    EXPECT_EQ(mm::flags_text(mm::leaf_entry_flags(mm::kFramebufferPolicy, PageSize::k2MiB), PageTableLevel::kPd).text,
              std::string("P|RW|NX|PAT|PS"));
    // Policies that predate memory types stay write-back.
    EXPECT_EQ(mm::kKernelDataPolicy.memory_type, MemoryType::kNormal);
    EXPECT_EQ(mm::phys_window_policy().memory_type, MemoryType::kNormal);
}

struct Tables {
    FakePhysicalMemory memory{PhysAddr(0x7000'0000), 32};
    FakeFrameSource frames{memory};
    mm::PageTableBuilder builder{mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, /*cpu_has_1gib_pages=*/true};

    mm::Translation at(uint64_t va) { return mm::translate(builder.root(), memory, VirtAddr(va)); }
};

TEST(PageTableBuilder, WritesPatBit12InLargeLeavesAndBit7InPtes) {
    Tables t;
    // 2 MiB + 8 KiB: one large page, then two 4 KiB pages.
    const uint64_t va = 0xFFFF'D000'0000'0000ull;
    const mm::MapResult r = t.builder.map_range(VirtAddr(va), PhysAddr(0x8000'0000), 2 * MiB + 2 * kPageSize,
                                                mm::kFramebufferPolicy);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.mapped.pages_2m, 1u);
    EXPECT_EQ(r.mapped.pages_4k, 2u);
    const mm::Translation large = t.at(va + 0x1234);
    ASSERT_TRUE(large.present);
    EXPECT_EQ(large.page_size, PageSize::k2MiB);
    EXPECT_EQ(large.pa, PhysAddr(0x8000'1234));  // bit 12 is PAT, not address
    EXPECT_EQ(large.flags, mm::leaf_flags::kFramebuffer | pte::kHugePage | pte::kPatHuge);
    const mm::Translation small = t.at(va + 2 * MiB + kPageSize);
    ASSERT_TRUE(small.present);
    EXPECT_EQ(small.pa, PhysAddr(0x8020'1000));
    EXPECT_EQ(small.flags, mm::leaf_flags::kFramebuffer | pte::kPat4K);
}

TEST(PageTableBuilder, MapsDevicePagesUncached) {
    Tables t;
    const uint64_t va = 0xFFFF'C000'0000'0000ull;
    ASSERT_TRUE(t.builder.map_range(VirtAddr(va), PhysAddr(0xFEE0'0000), kPageSize, mm::kMmioPolicy).ok());
    const mm::Translation m = t.at(va + 0x30);
    EXPECT_EQ(m.pa, PhysAddr(0xFEE0'0030));
    EXPECT_EQ(m.flags, mm::leaf_flags::kMmio | pte::kCacheDisable | pte::kWriteThrough);
}

TEST(PageTableBuilderDeathTest, RefusesCacheBitsSmuggledIntoLeafFlags) {
    Tables t;
    const mm::MappingPolicy loose = {mm::leaf_flags::kKernelData | pte::kCacheDisable, PageSize::k4KiB};
    EXPECT_DEATH((void)t.builder.map_range(VirtAddr(0x1000), PhysAddr(0x1000), kPageSize, loose), "assertion failed");
}


// ---- the PAT change procedure (memory_type_change.h) ------------------------------------------

// A CPU that records every step change_memory_types() takes, with the state it
// took it in, so the order the SDM asks for (Vol. 3A 11.11.8) can be checked.
struct RecordingCpu {
    uint64_t rflags = x86::kRflagsInterrupt;
    uint64_t cr0 = x86::kCr0Paging | x86::kCr0WriteProtect | x86::kCr0NotWriteThrough;
    uint64_t cr3 = 0x1000;
    uint64_t cr4 = 0;
    bool interrupts = true;
    std::vector<std::string> steps;

    bool no_fill() const { return (cr0 & x86::kCr0CacheDisable) && !(cr0 & x86::kCr0NotWriteThrough); }
    uint64_t save_and_disable_interrupts() {
        steps.push_back("cli");
        interrupts = false;
        return rflags;
    }
    void restore_interrupts(uint64_t saved) {
        steps.push_back("restore-if");
        interrupts = (saved & x86::kRflagsInterrupt) != 0;
    }
    uint64_t read_cr0() { return cr0; }
    void write_cr0(uint64_t v) {
        cr0 = v;
        steps.push_back(no_fill() ? "cache-no-fill" : "cache-normal");
    }
    uint64_t read_cr3() { return cr3; }
    void write_cr3(uint64_t v) {
        cr3 = v;
        steps.push_back("flush-cr3");
    }
    uint64_t read_cr4() { return cr4; }
    void write_cr4(uint64_t v) {
        steps.push_back(((cr4 ^ v) & x86::kCr4Pge) ? (v & x86::kCr4Pge ? "pge-on" : "pge-off-flush-all") : "cr4");
        cr4 = v;
    }
    void wbinvd() { steps.push_back(no_fill() ? "wbinvd" : "wbinvd-while-filling"); }
};

std::vector<std::string> pat_change_steps(RecordingCpu& cpu) {
    mm::change_memory_types(cpu, [&] {
        // The update itself must find the caches in no-fill mode, interrupts off, global pages off.
        cpu.steps.push_back(std::string("wrmsr") + (cpu.no_fill() ? "" : "-cache-filling") +
                            (cpu.interrupts ? "-interrupts-on" : "") + ((cpu.cr4 & x86::kCr4Pge) ? "-pge-on" : ""));
    });
    return cpu.steps;
}

TEST(PatChange, FollowsTheSdmStepsWithGlobalPagesOn) {
    RecordingCpu cpu;
    cpu.cr4 = x86::kCr4Pae | x86::kCr4Pge;
    const std::vector<std::string> expected = {
        "cli", "cache-no-fill", "wbinvd", "pge-off-flush-all",  // steps 2, 4, 5, 6
        "wrmsr",                                                // step 9
        "wbinvd", "flush-cr3",                                  // step 11
        "cache-normal", "pge-on", "restore-if"};                // steps 12, 13, 15
    EXPECT_EQ(pat_change_steps(cpu), expected);
    EXPECT_EQ(cpu.cr4, x86::kCr4Pae | x86::kCr4Pge);  // PGE back on
    EXPECT_EQ(cpu.cr0, x86::kCr0Paging | x86::kCr0WriteProtect | x86::kCr0NotWriteThrough);  // CR0 as it was
    EXPECT_TRUE(cpu.interrupts);
}

TEST(PatChange, FlushesByCr3WhenGlobalPagesAreOffAndKeepsInterruptsOff) {
    RecordingCpu cpu;
    cpu.cr4 = x86::kCr4Pae;
    cpu.rflags = 0;  // interrupts were off: they stay off
    const std::vector<std::string> expected = {"cli", "cache-no-fill", "wbinvd", "flush-cr3", "wrmsr",
                                               "wbinvd", "flush-cr3", "cache-normal", "restore-if"};
    EXPECT_EQ(pat_change_steps(cpu), expected);
    EXPECT_EQ(cpu.cr4, x86::kCr4Pae);
    EXPECT_FALSE(cpu.interrupts);
}

}  // namespace
