// Chapter 10's pure parts: the page-fault error code, the address
// classifier (a table of cases over a hand-made layout), the #GP handler's
// memory-operand decoder, and map_kernel_stacks over a fake physical memory.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "boot/uefi_memory.h"
#include "fake_physical_memory.h"
#include "mm/fault_decode.h"
#include "mm/kernel_stacks.h"
#include "memory_map_builder.h"
#include "mm/page_table_lookup.h"

namespace {

using mm::FaultCause;
using mm::PhysAddr;
using mm::VirtAddr;

TEST(PageFaultError, DecodesEveryBit) {
    struct Case {
        uint64_t code;
        bool p, w, u, rsvd, id, pk, ss, sgx;
        const char* access;
    };
    const Case cases[] = {
        {0x0, false, false, false, false, false, false, false, false, "read"},
        {0x2, false, true, false, false, false, false, false, false, "write"},
        {0x3, true, true, false, false, false, false, false, false, "write"},
        {0x11, true, false, false, false, true, false, false, false, "execute"},
        {0x13, true, true, false, false, true, false, false, false, "execute"},  // I/D wins over W/R
        {0x4, false, false, true, false, false, false, false, false, "read"},
        {0x9, true, false, false, true, false, false, false, false, "read"},
        {0x21, true, false, false, false, false, true, false, false, "read"},
        {0x40, false, false, false, false, false, false, true, false, "read"},
        {0x8000, false, false, false, false, false, false, false, true, "read"},
    };
    for (const Case& c : cases) {
        const mm::PageFaultError e = mm::decode_page_fault_error(c.code);
        SCOPED_TRACE(c.code);
        EXPECT_EQ(e.present, c.p);
        EXPECT_EQ(e.write, c.w);
        EXPECT_EQ(e.user, c.u);
        EXPECT_EQ(e.reserved_bit, c.rsvd);
        EXPECT_EQ(e.instruction_fetch, c.id);
        EXPECT_EQ(e.protection_key, c.pk);
        EXPECT_EQ(e.shadow_stack, c.ss);
        EXPECT_EQ(e.sgx, c.sgx);
        EXPECT_STREQ(mm::access_name(e), c.access);
    }
}

// The example image of kernel_image_span.h: text 0x1000-0x4000, rodata
// 0x4000-0x5000, data 0x5000-0x6000, boot-stack guard 0x6000, stack to 0x9000.
constexpr uint64_t kBase = mm::kernel_image_example::kBase;

mm::MemoryRangeList ram_0_to_64mib_and_128mib() {
    FakeMemoryMap map;
    map.add(boot::EfiMemoryType::kConventional, 0, 0x4000)                 // [0, 64 MiB)
        .add(boot::EfiMemoryType::kMmio, 0x400'0000, 0x1000, 0)            // [64 MiB, 80 MiB): a device
        .add(boot::EfiMemoryType::kConventional, 0x800'0000, 0x100);       // [128 MiB, +1 MiB)
    mm::MemoryRangeList ranges;
    EXPECT_TRUE(ranges.build(map.view()).ok());
    return ranges;
}

struct ClassifyCase {
    uint64_t address;
    uint64_t error;
    FaultCause cause;
    const char* region;
    const char* stack;  // nullptr: none
};

TEST(ClassifyPageFault, NamesTheCauseAndTheRegion) {
    const mm::MemoryRangeList ranges = ram_0_to_64mib_and_128mib();
    const mm::FaultAddressMap map = mm::make_fault_address_map(mm::kernel_image_example::kLayout, &ranges);
    const mm::KernelStack df = mm::kernel_stack(mm::KernelStackId::kDoubleFault);
    const mm::KernelStack mc = mm::kernel_stack(mm::KernelStackId::kMachineCheck);
    const uint64_t window = mm::layout::kPhysWindowBase.value();
    const ClassifyCase cases[] = {
        {0x0, 0x0, FaultCause::kNullPage, "null-page", nullptr},
        {0x10, 0x2, FaultCause::kNullPage, "null-page", nullptr},
        {0xFFF, 0x10, FaultCause::kNullPage, "null-page", nullptr},
        {0x1000, 0x0, FaultCause::kNotMapped, "lower-half", nullptr},
        {kBase + 0x6000, 0x2, FaultCause::kGuardPage, "guard-boot-stack", "boot"},
        {kBase + 0x6FF8, 0x2, FaultCause::kGuardPage, "guard-boot-stack", "boot"},
        {kBase + 0x0, 0x0, FaultCause::kGuardPage, "guard-below-image", nullptr},
        {kBase + 0x9000, 0x0, FaultCause::kGuardPage, "guard-above-image", nullptr},
        {df.guard.value(), 0x2, FaultCause::kGuardPage, "guard-df-ist", "df-ist"},
        {mc.bottom.value() - 8, 0x2, FaultCause::kGuardPage, "guard-mc-ist", "mc-ist"},
        {mc.top.value(), 0x2, FaultCause::kNotMapped, "kernel-stacks", nullptr},  // above the last stack
        {kBase + 0x1234, 0x3, FaultCause::kWriteToText, "text", nullptr},
        {kBase + 0x4008, 0x3, FaultCause::kWriteToRodata, "rodata", nullptr},
        {kBase + 0x4008, 0x1, FaultCause::kUnknown, "rodata", nullptr},  // a read of a present page
        {kBase + 0x5000, 0x11, FaultCause::kNxViolation, "data", nullptr},
        {kBase + 0x7000, 0x11, FaultCause::kNxViolation, "boot", nullptr},
        {window + 0x2000, 0x11, FaultCause::kNxViolation, "phys-window", nullptr},
        {window + 0x2000, 0x3, FaultCause::kWriteToReadOnly, "phys-window", nullptr},
        {window + 0x400'0000, 0x0, FaultCause::kPhysWindowHole, "phys-window", nullptr},  // the device
        {window + 0x600'0000, 0x2, FaultCause::kPhysWindowHole, "phys-window", nullptr},  // a gap
        {window + 0x800'0000, 0x0, FaultCause::kNotMapped, "phys-window", nullptr},       // RAM, yet not present
        {window + 0x3F'FFFF'F000, 0x0, FaultCause::kPhysWindowHole, "phys-window", nullptr},
        {0xFFFF'C000'0000'5000, 0x0, FaultCause::kNotMapped, "mmio", nullptr},
        {0xFFFF'E000'0000'0000, 0x2, FaultCause::kGuardPage, "guard-heap", nullptr},  // the heap's guard (chapter 11)
        {0xFFFF'E000'0000'1000, 0x2, FaultCause::kNotMapped, "heap", nullptr},
        {kBase + 0x5000, 0x9, FaultCause::kReservedBit, "data", nullptr},
        {kBase + 0x5000, 0x23, FaultCause::kProtectionKey, "data", nullptr},
        {0x0000'8000'0000'0000, 0x0, FaultCause::kNonCanonical, "non-canonical", nullptr},
        {0xDEAD'0000'0000'1000, 0x2, FaultCause::kNonCanonical, "non-canonical", nullptr},
    };
    for (const ClassifyCase& c : cases) {
        SCOPED_TRACE(testing::Message() << std::hex << "address=0x" << c.address << " error=0x" << c.error);
        const mm::FaultVerdict v = mm::classify_page_fault(VirtAddr(c.address), mm::decode_page_fault_error(c.error), map);
        EXPECT_STREQ(mm::fault_cause_name(v.cause), mm::fault_cause_name(c.cause));
        EXPECT_STREQ(v.region, c.region);
        if (c.stack) {
            EXPECT_STREQ(v.stack, c.stack);
        } else {
            EXPECT_EQ(v.stack, nullptr);
        }
        EXPECT_EQ(v.has_pa, std::string(c.region) == "phys-window");
        if (v.has_pa) {
            EXPECT_EQ(v.pa, PhysAddr(c.address - window));
        }
    }
}

TEST(ClassifyPageFault, WithoutARangeListNoHoleIsClaimed) {
    const mm::FaultAddressMap map = mm::make_fault_address_map(mm::kernel_image_example::kLayout, nullptr);
    const mm::FaultVerdict v = mm::classify_page_fault(mm::layout::kPhysWindowBase + 0x400'0000,
                                                       mm::decode_page_fault_error(0), map);
    EXPECT_EQ(v.cause, FaultCause::kNotMapped);
}

// Chapter 16: at five levels "canonical" means 57 bits, so an address above
// 2^47 is an unmapped one, not a non-canonical one; above 2^56 it is.
TEST(ClassifyPageFault, CanonicalMeansFiftySevenBitsAtFiveLevels) {
    mm::FaultAddressMap map = mm::make_fault_address_map(mm::kernel_image_example::kLayout, nullptr);
    const VirtAddr above_47(0x0000'8000'0000'0000ull), above_56(0x0100'0000'0000'0000ull);
    EXPECT_EQ(mm::classify_page_fault(above_47, mm::decode_page_fault_error(0), map).cause, FaultCause::kNonCanonical);
    map.depth = mm::PagingDepth::kFiveLevel;
    const mm::FaultVerdict v = mm::classify_page_fault(above_47, mm::decode_page_fault_error(0), map);
    EXPECT_EQ(v.cause, FaultCause::kNotMapped);
    EXPECT_STREQ(v.region, "lower-half");
    EXPECT_EQ(mm::classify_page_fault(above_56, mm::decode_page_fault_error(0), map).cause, FaultCause::kNonCanonical);
}

TEST(StackOf, FindsTheStackOrItsGuard) {
    const mm::FaultAddressMap map = mm::make_fault_address_map(mm::kernel_image_example::kLayout, nullptr);
    ASSERT_EQ(map.stack_count, 1 + mm::kKernelStackCount);
    EXPECT_STREQ(mm::stack_of(VirtAddr(kBase + 0x8FF0), map)->name, "boot");
    EXPECT_STREQ(mm::stack_of(VirtAddr(kBase + 0x6000), map)->name, "boot");  // its guard
    const mm::KernelStack pf = mm::kernel_stack(mm::KernelStackId::kPageFault);
    EXPECT_STREQ(mm::stack_of(pf.top + (0 - 8ull), map)->name, "pf-ist");
    EXPECT_EQ(mm::stack_of(pf.top + 0x1000, map)->name, std::string("nmi-ist"));
    EXPECT_EQ(mm::stack_of(VirtAddr(kBase + 0x5000), map), nullptr);
}

TEST(KernelStacks, OneIstSlotPerVectorAndGuardsBetween) {
    // The vector each stack's gate names, and its IST slot; #GP (13) has none.
    std::map<uint8_t, uint8_t> ist_of_vector;
    for (size_t i = 0; i < mm::kKernelStackCount; ++i) ist_of_vector[mm::kernel_stack(i).vector] = mm::kernel_stack(i).ist;
    EXPECT_EQ(ist_of_vector, (std::map<uint8_t, uint8_t>{{8, 1}, {14, 2}, {2, 3}, {18, 4}}));
    EXPECT_EQ(ist_of_vector.count(13), 0u);
    for (size_t i = 0; i < mm::kKernelStackCount; ++i) {
        const mm::KernelStack s = mm::kernel_stack(i);
        EXPECT_EQ(s.bottom - s.guard, kPageSize);
        EXPECT_EQ(s.top - s.bottom, mm::kKernelStackSize);
        if (i > 0) {
            EXPECT_EQ(s.guard, mm::kernel_stack(i - 1).top);
        }
    }
}

TEST(MapKernelStacks, MapsEveryStackPageRwNxAndNoGuard) {
    FakePhysicalMemory memory(PhysAddr(0x7000'0000), 64);
    FakeFrameSource frames(memory);
    mm::PageTableBuilder builder(mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, /*cpu_has_1gib_pages=*/true);
    const mm::MapResult result = mm::map_kernel_stacks(builder, frames, {true, true});
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result.mapped.pages_4k, mm::kKernelStackCount * mm::kKernelStackSize / kPageSize);
    EXPECT_EQ(result.mapped.tables_created, 3u);  // PDPT, PD, PT under one PML4 slot
    for (size_t i = 0; i < mm::kKernelStackCount; ++i) {
        const mm::KernelStack s = mm::kernel_stack(i);
        EXPECT_FALSE(mm::translate(builder.root(), memory, s.guard).present) << s.name;
        for (VirtAddr va = s.bottom; va < s.top; va = va + kPageSize) {
            const mm::Translation t = mm::translate(builder.root(), memory, va);
            ASSERT_TRUE(t.present) << s.name;
            EXPECT_EQ(t.flags & (x86::pte::kWritable | x86::pte::kNoExecute | x86::pte::kUser),
                      x86::pte::kWritable | x86::pte::kNoExecute);
        }
    }
}

TEST(MapKernelStacks, AnEmptyFrameSourceIsRefused) {
    FakePhysicalMemory memory(PhysAddr(0x7000'0000), 6);  // the PML4, three tables, two stack pages
    FakeFrameSource frames(memory);
    mm::PageTableBuilder builder(mm::PageTableBuilder::create_pml4(memory, frames).frame(), memory, frames, /*cpu_has_1gib_pages=*/true);
    EXPECT_FALSE(mm::map_kernel_stacks(builder, frames, {true, true}).ok());
}

struct OperandCase {
    std::vector<uint8_t> code;
    bool ok;
    int base, index;
    uint8_t scale;
    int64_t displacement;
};

TEST(DecodeMemoryOperand, CommonFormsAndRefusals) {
    const OperandCase cases[] = {
        {{0x48, 0xC7, 0x00, 0x01, 0x00, 0x00, 0x00}, true, 0, -1, 1, 0},   // movq $1, (%rax)
        {{0x48, 0x89, 0x10}, true, 0, -1, 1, 0},                           // mov %rdx, (%rax)
        {{0x48, 0x8B, 0x47, 0x10}, true, 7, -1, 1, 0x10},                  // mov 0x10(%rdi), %rax
        {{0x4C, 0x8B, 0x41, 0xF8}, true, 1, -1, 1, -8},                    // mov -8(%rcx), %r8
        {{0x49, 0x89, 0x04, 0xC8}, true, 8, 1, 8, 0},                      // mov %rax, (%r8,%rcx,8)
        {{0x4A, 0x8B, 0x04, 0xE5, 0x00, 0x10, 0x00, 0x00}, true, -1, 12, 8, 0x1000},  // mov 0x1000(,%r12,8), %rax
        {{0x8B, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00}, true, 4, -1, 1, 0x100},  // mov 0x100(%rsp), %eax
        {{0x41, 0x8B, 0x45, 0x00}, true, 13, -1, 1, 0},                    // mov 0(%r13), %eax
        {{0x0F, 0xB6, 0x06}, true, 6, -1, 1, 0},                           // movzbl (%rsi), %eax
        {{0xF0, 0x48, 0x01, 0x03}, true, 3, -1, 1, 0},                     // lock add %rax, (%rbx)
        {{0x66, 0xC7, 0x02, 0x34, 0x12}, true, 2, -1, 1, 0},               // movw $0x1234, (%rdx)
        {{0x48, 0x8B, 0x05, 0x10, 0x00, 0x00, 0x00}, false, -1, -1, 1, 0}, // RIP-relative
        {{0x48, 0x89, 0xC0}, false, -1, -1, 1, 0},                         // mov %rax, %rax: no memory
        {{0x64, 0x48, 0x8B, 0x00}, false, -1, -1, 1, 0},                   // FS override
        {{0xA4}, false, -1, -1, 1, 0},                                     // movsb
        {{0x48, 0x8B}, false, -1, -1, 1, 0},                               // cut short
        {{0x48, 0x8B, 0x80, 0x00}, false, -1, -1, 1, 0},                   // disp32 cut short
        {{}, false, -1, -1, 1, 0},
    };
    for (const OperandCase& c : cases) {
        SCOPED_TRACE(testing::PrintToString(c.code));
        const mm::MemoryOperand op = mm::decode_memory_operand(c.code.data(), c.code.size());
        ASSERT_EQ(op.ok, c.ok);
        if (!c.ok) continue;
        EXPECT_EQ(op.base, c.base);
        EXPECT_EQ(op.index, c.index);
        EXPECT_EQ(op.scale, c.scale);
        EXPECT_EQ(op.displacement, c.displacement);
    }
}

TEST(EffectiveAddress, BasePlusScaledIndexPlusDisplacement) {
    uint64_t regs[16] = {};
    regs[8] = 0xDEAD'0000'0000'0000;
    regs[1] = 3;
    const uint8_t code[] = {0x49, 0x8B, 0x44, 0xC8, 0xF0};  // mov -0x10(%r8,%rcx,8), %rax
    const mm::MemoryOperand op = mm::decode_memory_operand(code, sizeof(code));
    ASSERT_TRUE(op.ok);
    EXPECT_EQ(mm::effective_address(op, regs), 0xDEAD'0000'0000'0000ull + 24 - 16);
    EXPECT_STREQ(mm::register_name(op.base), "r8");
    EXPECT_STREQ(mm::register_name(op.index), "rcx");
}

}  // namespace
