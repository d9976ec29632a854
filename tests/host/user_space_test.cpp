// Chapter 12: the handoff's module table rule by rule, the user-ELF reader
// rule by rule, the user-range check, the ring-3 fault rules, the audit of a
// process's tables, and a process's page tables over a fake physical
// memory (creation sharing the kernel half, every refusal of map_page, and a
// teardown that returns exactly the frames the process owned).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "elf_builder.h"
#include "fake_physical_memory.h"
#include "memory_map_builder.h"
#include "mm/handoff_validation.h"
#include "mm/user_address_space.h"
#include "mm/user_audit.h"
#include "mm/user_elf.h"
#include "mm/user_layout.h"

using mm::PhysAddr;
using mm::SegmentRights;
using mm::UserMapStatus;
using mm::VirtAddr;

namespace {

// A valid user program as user.ld links one: text, rodata, data + bss.
TestElf user_elf() {
    TestElf elf;
    elf.entry = 0x400000;
    elf.segments = {
        TestSegment{1, 5, 0x1000, 0x400000, 0x80, 0x80},
        TestSegment{1, 4, 0x2000, 0x401000, 0x20, 0x20},
        TestSegment{1, 6, 0x3000, 0x402000, 0x10, 0x3000},
    };
    return elf;
}

Violation parse(const TestElf& elf, mm::UserImage* image) {
    const std::vector<uint8_t> bytes = elf.bytes();
    return mm::parse_user_elf(bytes.data(), bytes.size(), image);
}

std::string rule_of(const TestElf& elf) {
    mm::UserImage image;
    const Violation v = parse(elf, &image);
    return v.ok() ? "" : std::string(v.field) + ": " + v.rule;
}

}  // namespace

TEST(UserElf, AcceptsAProgramAsUserLdLinksIt) {
    mm::UserImage image;
    ASSERT_TRUE(parse(user_elf(), &image).ok());
    EXPECT_EQ(image.entry, 0x400000u);
    ASSERT_EQ(image.segment_count, 3u);
    EXPECT_EQ(image.segments[0].rights, SegmentRights::kReadExecute);
    EXPECT_EQ(image.segments[1].rights, SegmentRights::kReadOnly);
    EXPECT_EQ(image.segments[2].rights, SegmentRights::kReadWrite);
    EXPECT_EQ(image.segments[2].memory_size, 0x3000u);
}

TEST(UserElf, RefusesEachBrokenRuleByName) {
    struct Case {
        const char* what;
        void (*damage)(TestElf&);
        const char* field;
    };
    const Case cases[] = {
        {"kernel machine", [](TestElf& e) { e.machine = 3; }, "e_machine"},
        {"32-bit", [](TestElf& e) { e.ident_class = 1; }, "e_ident.class"},
        {"not executable", [](TestElf& e) { e.type = 3; }, "e_type"},
        {"no program headers", [](TestElf& e) { e.phnum_override = 0; }, "e_phnum"},
        {"headers past the end", [](TestElf& e) { e.phoff = 0x3FF0; }, "e_phoff"},
        {"filesz over memsz", [](TestElf& e) { e.segments[1].filesz = 0x100; }, "p_filesz"},
        {"bytes past the file", [](TestElf& e) { e.segments[1].offset = 0x3FF0; }, "p_offset"},
        {"near page 0", [](TestElf& e) { e.segments[0].vaddr = 0x1000; e.entry = 0x1000; }, "p_vaddr"},
        {"unaligned", [](TestElf& e) { e.segments[1].vaddr = 0x401010; }, "p_vaddr"},
        {"in the kernel half", [](TestElf& e) { e.segments[2].vaddr = 0xFFFF'8000'0000'0000ull; }, "p_memsz"},
        {"into the stack area", [](TestElf& e) { e.segments[2].vaddr = 0x6FFF'FFFF'F000ull; }, "p_memsz"},
        {"1 TiB bss", [](TestElf& e) { e.segments[2].memsz = 1ull << 40; }, "p_memsz"},
        {"W+X", [](TestElf& e) { e.segments[0].flags = 7; }, "p_flags"},
        {"text off a page", [](TestElf& e) { e.segments[0].offset = 0x1010; }, "p_offset"},
        {"text with bss", [](TestElf& e) { e.segments[0].memsz = 0x2000; }, "p_memsz"},
        {"sharing a page", [](TestElf& e) { e.segments[1].vaddr = 0x400000; }, "p_vaddr"},
        {"entry in data", [](TestElf& e) { e.entry = 0x402000; }, "e_entry"},
        {"interpreter", [](TestElf& e) { e.segments[1].type = 3; }, "p_type"},
        {"nothing to load", [](TestElf& e) { for (auto& s : e.segments) s.memsz = s.filesz = 0; }, "PT_LOAD"},
    };
    for (const Case& c : cases) {
        TestElf elf = user_elf();
        c.damage(elf);
        mm::UserImage image;
        const Violation v = parse(elf, &image);
        ASSERT_FALSE(v.ok()) << c.what;
        EXPECT_STREQ(v.field, c.field) << c.what << ": " << v.rule;
    }
    EXPECT_EQ(rule_of(user_elf()), "");
    mm::UserImage image;
    EXPECT_FALSE(mm::parse_user_elf(nullptr, 0, &image).ok());
    const uint8_t tiny[8] = {0x7f, 'E', 'L', 'F'};
    EXPECT_STREQ(mm::parse_user_elf(tiny, sizeof(tiny), &image).field, "file size");
}

TEST(UserLayout, RangeCheckRefusesKernelPointersAndWrapsAndAcceptsTheEdge) {
    EXPECT_TRUE(mm::check_user_range("buffer", 0x400000, 16).ok());
    EXPECT_TRUE(mm::check_user_range("buffer", 0xFFFF'FFFF'8000'1000ull, 0).ok());  // nothing touched
    EXPECT_STREQ(mm::check_user_range("buffer", 0xFFFF'FFFF'8000'1000ull, 16).field, "buffer");
    EXPECT_STREQ(mm::check_user_range("buffer", 0x8000'0000'0000ull, 1).field, "buffer");  // non-canonical
    EXPECT_STREQ(mm::check_user_range("buffer", mm::kUserLimit.value(), 1).field, "buffer");
    EXPECT_STREQ(mm::check_user_range("buffer", 0x400000, ~uint64_t(0) - 8).field, "count");  // wraps
    EXPECT_TRUE(mm::check_user_range("buffer", mm::kUserLimit.value() - 16, 16).ok());
    EXPECT_STREQ(mm::check_user_range("buffer", mm::kUserLimit.value() - 16, 17).field, "count");
}

TEST(UserLayout, EachRing3PageFaultGetsItsRule) {
    auto rule = [](uint64_t address, uint64_t error) {
        return std::string(mm::classify_user_page_fault(VirtAddr(address), mm::decode_page_fault_error(error)).rule);
    };
    constexpr uint64_t P = 1, W = 2, U = 4, RSVD = 8, I = 16;
    EXPECT_EQ(rule(0xFFFF'8000'0010'0000ull, P | U), "kernel-memory");
    EXPECT_EQ(rule(0xFFFF'FFFF'8000'0000ull, U), "kernel-memory");
    EXPECT_EQ(rule(0, U), "null-page");
    EXPECT_EQ(rule(0x3F'F000, U | W), "null-page");
    EXPECT_EQ(rule(0x400000, P | W | U), "write-read-only");
    EXPECT_EQ(rule(mm::kUserStackTop.value() - 32, P | U | I), "execute-no-execute");
    EXPECT_EQ(rule(mm::kUserStackGuard.value() + 8, U | W), "stack-guard");
    EXPECT_EQ(rule(0x1000'0000'0000ull, U), "not-mapped");
    EXPECT_EQ(rule(0x400000, P | U | RSVD), "reserved-bit");
}

namespace {

constexpr PhysAddr kBase{0x100000};

// Frames given back by destroy(), each at most once.
class RecordingSink final : public mm::FrameSink {
public:
    bool return_frame(PhysAddr frame) override { return returned.insert(frame.value()).second; }
    std::set<uint64_t> returned;
};

// A kernel PML4 with every upper slot present (as share_kernel_half leaves it).
PhysAddr kernel_pml4(FakePhysicalMemory& memory, FakeFrameSource& frames, bool all_slots = true) {
    const PhysAddr pml4 = kernel_half_table(memory, frames, kBase);
    if (!all_slots) memory.table_at(pml4)->entries[300].clear();  // one slot missing: create() must refuse
    return pml4;
}

}  // namespace

TEST(UserAddressSpace, SharesTheKernelHalfAndRefusesAMissingSlot) {
    FakePhysicalMemory memory(kBase, 64);
    FakeFrameSource frames(memory);
    const PhysAddr kernel = kernel_pml4(memory, frames);
    mm::UserAddressSpace space(memory, frames);
    ASSERT_EQ(space.create(kernel), UserMapStatus::kOk);
    const mm::PageTable& mine = *memory.table_at(space.pml4());
    const mm::PageTable& theirs = *memory.table_at(kernel);
    for (unsigned slot = 0; slot < 256; ++slot) EXPECT_FALSE(mine.entries[slot].present()) << slot;
    for (unsigned slot = 256; slot < 512; ++slot) EXPECT_EQ(mine.entries[slot], theirs.entries[slot]) << slot;

    const PhysAddr partial = kernel_pml4(memory, frames, false);
    mm::UserAddressSpace other(memory, frames);
    EXPECT_EQ(other.create(partial), UserMapStatus::kKernelSlotMissing);
}

TEST(UserAddressSpace, MapPageRefusesEachRuleAndMapsUserTables) {
    FakePhysicalMemory memory(kBase, 64);
    FakeFrameSource frames(memory);
    mm::UserAddressSpace space(memory, frames);
    ASSERT_EQ(space.create(kernel_pml4(memory, frames)), UserMapStatus::kOk);
    const PhysAddr frame = frames.alloc_frame().frame();
    using namespace mm::user_flags;
    EXPECT_EQ(space.map_page(VirtAddr(0), frame, kData), UserMapStatus::kBelowUserLowest);
    EXPECT_EQ(space.map_page(VirtAddr(0x3F'F000), frame, kData), UserMapStatus::kBelowUserLowest);
    EXPECT_EQ(space.map_page(mm::kUserLimit, frame, kData), UserMapStatus::kAtOrAboveUserLimit);
    EXPECT_EQ(space.map_page(VirtAddr(0xFFFF'8000'0000'0000ull), frame, kData), UserMapStatus::kAtOrAboveUserLimit);
    EXPECT_EQ(space.map_page(VirtAddr(0x400800), frame, kData), UserMapStatus::kMisaligned);
    EXPECT_EQ(space.map_page(VirtAddr(0x400000), frame, x86::pte::kPresent | x86::pte::kNoExecute), UserMapStatus::kNotUserFlags);
    EXPECT_EQ(space.map_page(VirtAddr(0x400000), frame, kText | x86::pte::kWritable), UserMapStatus::kWritableExecutable);
    ASSERT_EQ(space.map_page(VirtAddr(0x400000), frame, kText), UserMapStatus::kOk);
    EXPECT_EQ(space.map_page(VirtAddr(0x400000), frame, kText), UserMapStatus::kAlreadyMapped);
    // Every level on the way is user-accessible; the leaf alone decides.
    PhysAddr at = space.pml4();
    for (auto level : {mm::PageTableLevel::kPml4, mm::PageTableLevel::kPdpt, mm::PageTableLevel::kPd}) {
        const mm::PageTableEntry e = (*memory.table_at(at))[mm::index_at(VirtAddr(0x400000), level)];
        EXPECT_TRUE(e.present() && e.user() && e.writable() && !e.no_execute());
        at = e.address();
    }
    const mm::PageTableEntry leaf = (*memory.table_at(at))[mm::index_at(VirtAddr(0x400000), mm::PageTableLevel::kPt)];
    EXPECT_EQ(leaf.raw(), frame.value() | kText);
    EXPECT_EQ(space.pages(), 1u);
    EXPECT_EQ(space.tables(), 4u);  // PML4, PDPT, PD, PT
}

TEST(UserAddressSpace, DestroyReturnsExactlyTheOwnedFramesAndKeepsBorrowedOnes) {
    FakePhysicalMemory memory(kBase, 64);
    FakeFrameSource frames(memory);
    const PhysAddr kernel = kernel_pml4(memory, frames);
    const PhysAddr module_text = frames.alloc_frame().frame();
    const size_t before = frames.handed_out().size();
    mm::UserAddressSpace space(memory, frames);
    ASSERT_EQ(space.create(kernel), UserMapStatus::kOk);
    using namespace mm::user_flags;
    ASSERT_EQ(space.map_page(VirtAddr(0x400000), module_text, kText | kBorrowed), UserMapStatus::kOk);
    ASSERT_EQ(space.map_page(VirtAddr(0x401000), frames.alloc_frame().frame(), kRodata), UserMapStatus::kOk);
    ASSERT_EQ(space.map_page(VirtAddr(0x7000'0000'0000ull), frames.alloc_frame().frame(), kData), UserMapStatus::kOk);  // another PML4 slot
    ASSERT_EQ(space.map_page(mm::kUserStackBottom, frames.alloc_frame().frame(), kData), UserMapStatus::kOk);
    EXPECT_EQ(space.pages(), 3u);
    EXPECT_EQ(space.borrowed(), 1u);
    const std::set<uint64_t> owned = [&] {
        std::set<uint64_t> s;
        for (size_t i = before; i < frames.handed_out().size(); ++i) s.insert(frames.handed_out()[i].value());
        return s;
    }();
    RecordingSink sink;
    const mm::ReleasedFrames released = space.destroy(sink);
    EXPECT_EQ(sink.returned, owned);  // everything the process took, nothing else
    EXPECT_FALSE(sink.returned.count(module_text.value()));
    EXPECT_FALSE(sink.returned.count(kernel.value()));
    EXPECT_EQ(released.pages, 3u);
    EXPECT_EQ(released.borrowed, 1u);
    EXPECT_EQ(released.pages + released.tables, owned.size());
    EXPECT_EQ(released.refused, 0u);
}

// ---- the handoff's module table (mm/handoff_validation.h) ---------------------------

namespace {

struct ModuleHandoff {
    FakeMemoryMap map;
    mm::MemoryRangeList ranges;
    boot::BootHandoff h{};
    mm::LoaderObject objects[mm::kLoaderObjectCount];

    ModuleHandoff() {
        using boot::EfiMemoryType;
        map.add(EfiMemoryType::kKernelImage, 0x200000, 0x10)
            .add(EfiMemoryType::kBootHandoff, 0x300000, 3)
            .add(EfiMemoryType::kBootPageTables, 0x400000, 4)
            .add(EfiMemoryType::kBootStack, 0x500000, 16)
            .add(EfiMemoryType::kBootModules, 0x600000, 8)
            .add(EfiMemoryType::kConventional, 0x608000, 8)
            .add(EfiMemoryType::kBootModules, 0x610000, 2);  // a second, separate block
        EXPECT_TRUE(ranges.build(map.view()).ok());
        h.kernel_physical_base = 0x200000;
        h.kernel_size = 0x10000;
        h.memory_map = 0x300000;
        h.memory_map_capacity = 0x2000;
        h.bootstrap_pml4 = 0x401000;
        h.boot_stack_base = 0x500000;
        h.boot_stack_size = 0x10000;
        h.module_count = 2;
        h.modules[0] = {"hello.elf", 0x600000, 0x2100};
        h.modules[1] = {"write-text.elf", 0x603000, 0x1200};
        mm::list_loader_objects(h, PhysAddr(0x302000), objects);
    }
    Violation check() { return mm::check_boot_modules(h, objects, ranges); }
};

}  // namespace

TEST(BootModules, AValidTableAndAnEmptyOnePass) {
    ModuleHandoff m;
    EXPECT_TRUE(m.check().ok());
    m.h.module_count = 0;
    EXPECT_TRUE(m.check().ok());
}

TEST(BootModules, EachBrokenRuleIsRefusedWithTheModulesIndex) {
    struct Case {
        const char* what;
        void (*damage)(boot::BootHandoff&);
        const char* field;
    };
    const Case cases[] = {
        {"17 modules", [](boot::BootHandoff& h) { h.module_count = 17; }, "module_count"},
        {"no name", [](boot::BootHandoff& h) { h.modules[1].name[0] = '\0'; }, "modules.name"},
        {"unterminated name", [](boot::BootHandoff& h) { std::memset(h.modules[1].name, 'a', 32); }, "modules.name"},
        {"empty", [](boot::BootHandoff& h) { h.modules[1].size = 0; }, "modules.size"},
        {"unaligned", [](boot::BootHandoff& h) { h.modules[1].physical_base = 0x603010; }, "modules.physical_base"},
        {"wraps", [](boot::BootHandoff& h) { h.modules[1].size = ~uint64_t(0) - 0x1000; }, "modules.size"},
        {"into free memory", [](boot::BootHandoff& h) { h.modules[1].size = 0x6000; }, "modules.physical_base"},
        {"in the kernel image", [](boot::BootHandoff& h) { h.modules[1].physical_base = 0x200000; }, "modules.physical_base"},
        {"in another block", [](boot::BootHandoff& h) { h.modules[1].physical_base = 0x610000; }, "modules.physical_base"},
        {"over module 0", [](boot::BootHandoff& h) { h.modules[1].physical_base = 0x602000; }, "modules.physical_base"},
    };
    for (const Case& c : cases) {
        ModuleHandoff m;
        c.damage(m.h);
        const Violation v = m.check();
        ASSERT_FALSE(v.ok()) << c.what;
        EXPECT_STREQ(v.field, c.field) << c.what << ": " << v.rule;
        if (std::string(c.field) != "module_count") {
            EXPECT_EQ(v.index, 1u) << c.what;
        }
    }
}

// ---- the audit of a process's tables (mm/user_audit.h) ---------------------------------

namespace {

// One 4 KiB leaf at `va` with `leaf` flags, every table on the way created
// with `tables` flags: tables the audit must judge, built by hand because
// UserAddressSpace refuses to build the bad ones.
void map_raw(FakePhysicalMemory& memory, FakeFrameSource& frames, PhysAddr pml4, VirtAddr va, PhysAddr pa,
             uint64_t leaf, uint64_t tables) {
    PhysAddr at = pml4;
    for (auto level : {mm::PageTableLevel::kPml4, mm::PageTableLevel::kPdpt, mm::PageTableLevel::kPd}) {
        mm::PageTableEntry& e = (*memory.table_at(at))[mm::index_at(va, level)];
        if (!e.present()) {
            const PhysAddr fresh = frames.alloc_frame().frame();
            for (auto& x : memory.table_at(fresh)->entries) x.clear();
            e.set(level, fresh, tables);
        }
        at = e.address();
    }
    (*memory.table_at(at))[mm::index_at(va, mm::PageTableLevel::kPt)].set(mm::PageTableLevel::kPt, pa, leaf);
}

mm::UserAudit audit_of(FakePhysicalMemory& memory, PhysAddr pml4) {
    mm::PageTableWalker walker(pml4, memory);
    return mm::audit_user_space(walker);
}

struct AuditedSpace {
    FakePhysicalMemory memory{kBase, 64};
    FakeFrameSource frames{memory};
    PhysAddr pml4 = frames.alloc_frame().frame();
    AuditedSpace() {
        using namespace mm::user_flags;
        for (auto& e : memory.table_at(pml4)->entries) e.clear();
        const PhysAddr f = frames.alloc_frame().frame();
        map_raw(memory, frames, pml4, VirtAddr(0x400000), f, kText, kTable);
        map_raw(memory, frames, pml4, mm::kUserStackBottom, f, kData, kTable);
        map_raw(memory, frames, pml4, VirtAddr(0xFFFF'FFFF'8000'1000ull), f, x86::pte::kPresent,
                x86::pte::kPresent | x86::pte::kWritable);  // kernel text: supervisor
    }
};

}  // namespace

TEST(UserAudit, APlainProcessPasses) {
    AuditedSpace s;
    const mm::UserAudit a = audit_of(s.memory, s.pml4);
    EXPECT_TRUE(a.ok());
    EXPECT_EQ(a.user_pages, 2u);
    EXPECT_EQ(a.kernel_pages, 1u);
}

TEST(UserAudit, EachBrokenRuleIsCounted) {
    using namespace mm::user_flags;
    const PhysAddr f = kBase;
    {
        AuditedSpace s;  // a user page in the kernel half
        map_raw(s.memory, s.frames, s.pml4, VirtAddr(0xFFFF'C000'0000'0000ull), f, kRodata, kTable);
        const mm::UserAudit a = audit_of(s.memory, s.pml4);
        EXPECT_EQ(a.kernel_user, 1u);
        EXPECT_EQ(a.first_bad, VirtAddr(0xFFFF'C000'0000'0000ull));
        EXPECT_FALSE(a.ok());
    }
    {
        AuditedSpace s;  // near page 0, and at the user limit
        map_raw(s.memory, s.frames, s.pml4, VirtAddr(0x1000), f, kRodata, kTable);
        map_raw(s.memory, s.frames, s.pml4, mm::kUserLimit, f, kRodata, kTable);
        EXPECT_EQ(audit_of(s.memory, s.pml4).outside, 2u);
    }
    {
        AuditedSpace s;  // writable and executable: a data page without NX
        map_raw(s.memory, s.frames, s.pml4, VirtAddr(0x500000), f, kText | x86::pte::kWritable, kTable);
        EXPECT_EQ(audit_of(s.memory, s.pml4).wx, 1u);
    }
    {
        AuditedSpace s;  // a user leaf whose tables are supervisor-only is not a user page
        map_raw(s.memory, s.frames, s.pml4, VirtAddr(0x8000'0000ull), f, kRodata, x86::pte::kPresent | x86::pte::kWritable);
        const mm::UserAudit a = audit_of(s.memory, s.pml4);
        EXPECT_TRUE(a.ok());
        EXPECT_EQ(a.user_pages, 2u);
    }
}
