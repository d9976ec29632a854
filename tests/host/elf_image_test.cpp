// The loader's ELF validator: every rule, each broken on its own.
#include "boot/elf_image.h"

#include "boot/kernel_note.h"

#include <gtest/gtest.h>

#include <string>

#include "elf_builder.h"

using boot::elf::KernelImageLayout;
using boot::elf::parse_kernel_elf;
using boot::elf::Violation;

namespace {

Violation check(const TestElf& elf, KernelImageLayout* layout = nullptr) {
    KernelImageLayout scratch;
    const std::vector<uint8_t> bytes = elf.bytes();
    return parse_kernel_elf(bytes.data(), bytes.size(), layout ? layout : &scratch);
}

void expect_rejected(const TestElf& elf, const std::string& field, uint64_t value) {
    const Violation v = check(elf);
    ASSERT_FALSE(v.ok()) << "expected a rejection on " << field;
    EXPECT_EQ(std::string(v.field), field);
    EXPECT_EQ(v.value, value);
    EXPECT_NE(v.rule, nullptr);
}

}  // namespace

TEST(ElfImage, AcceptsAValidKernelAndDescribesItsLayout) {
    KernelImageLayout layout;
    ASSERT_TRUE(check(TestElf{}, &layout).ok());
    EXPECT_EQ(layout.entry, 0xFFFFFFFF80001000ull);
    EXPECT_EQ(layout.virtual_base, 0xFFFFFFFF80001000ull);
    // data segment ends at 0x...3000 + 0x5000 = 0x...8000
    EXPECT_EQ(layout.span, 0x7000u);
    ASSERT_EQ(layout.segment_count, 3u);
    EXPECT_EQ(layout.segments[2].memory_size, 0x5000u);
}

TEST(ElfImage, SortsSegmentsByAddress) {
    TestElf elf;
    std::swap(elf.segments[0], elf.segments[2]);
    KernelImageLayout layout;
    ASSERT_TRUE(check(elf, &layout).ok());
    EXPECT_LT(layout.segments[0].virtual_address, layout.segments[1].virtual_address);
    EXPECT_LT(layout.segments[1].virtual_address, layout.segments[2].virtual_address);
}

TEST(ElfImage, RejectsFilesShorterThanTheHeader) {
    KernelImageLayout layout;
    const uint8_t tiny[10] = {0x7f, 'E', 'L', 'F'};
    const Violation v = parse_kernel_elf(tiny, sizeof(tiny), &layout);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(std::string(v.field), "file size");
    EXPECT_EQ(v.value, 10u);
    EXPECT_FALSE(parse_kernel_elf(nullptr, 0, &layout).ok());
}

TEST(ElfImage, RejectsBadMagic) {
    TestElf elf;
    std::vector<uint8_t> bytes = elf.bytes();
    bytes[1] = 'X';
    KernelImageLayout layout;
    const Violation v = parse_kernel_elf(bytes.data(), bytes.size(), &layout);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(std::string(v.field), "e_ident.magic");
    EXPECT_EQ(v.value, 0x464c587fu);  // 7f 'X' 'L' 'F' read little-endian
}

TEST(ElfImage, RejectsWrongIdentification) {
    TestElf elf32;
    elf32.ident_class = 1;
    expect_rejected(elf32, "e_ident.class", 1);
    TestElf big_endian;
    big_endian.ident_data = 2;
    expect_rejected(big_endian, "e_ident.data", 2);
    TestElf shared_object;
    shared_object.type = 3;
    expect_rejected(shared_object, "e_type", 3);
    TestElf arm;
    arm.machine = 183;
    expect_rejected(arm, "e_machine", 183);
    TestElf version;
    version.version = 2;
    expect_rejected(version, "e_version", 2);
}

TEST(ElfImage, RejectsProgramHeaderTableProblems) {
    TestElf entry_size;
    entry_size.phentsize = 32;
    expect_rejected(entry_size, "e_phentsize", 32);
    TestElf none;
    none.phnum_override = 0;
    expect_rejected(none, "e_phnum", 0);
    TestElf too_many;
    too_many.phnum_override = 65;
    expect_rejected(too_many, "e_phnum", 65);
    TestElf outside;
    outside.phoff = 0x3FF0;  // 3 * 56 bytes do not fit before 0x4000
    expect_rejected(outside, "e_phoff", 0x3FF0);
    TestElf wrapping;
    wrapping.phoff = ~0ull - 8;  // offset + size would wrap around 2^64
    wrapping.segments.clear();   // (the builder cannot write a table there)
    wrapping.phnum_override = 3;
    expect_rejected(wrapping, "e_phoff", ~0ull - 8);
}

TEST(ElfImage, RejectsSegmentsOutsideTheFile) {
    TestElf elf;
    elf.segments[1].offset = 0x3F90;  // 0x80 bytes from here pass the end (0x4000)
    expect_rejected(elf, "p_offset", 0x3F90);
    TestElf wrapping;
    wrapping.segments[1].offset = ~0ull - 0x10;
    expect_rejected(wrapping, "p_offset", ~0ull - 0x10);
}

TEST(ElfImage, RejectsFileSizeLargerThanMemorySize) {
    TestElf elf;
    elf.segments[0].filesz = 0x200;
    expect_rejected(elf, "p_filesz", 0x200);
}

TEST(ElfImage, RejectsLowHalfSegments) {
    TestElf elf;
    elf.segments[0].vaddr = 0x100000;
    expect_rejected(elf, "p_vaddr", 0x100000);
    TestElf non_canonical;
    non_canonical.segments[0].vaddr = 0x0000'8000'0000'0000ull;
    expect_rejected(non_canonical, "p_vaddr", 0x0000'8000'0000'0000ull);
}

TEST(ElfImage, RejectsWritableAndExecutableSegments) {
    TestElf elf;
    elf.segments[0].flags = 7;
    expect_rejected(elf, "p_flags", 7);
}

TEST(ElfImage, RejectsAnEnormousBss) {
    TestElf elf;
    elf.segments[2].memsz = 1ull << 40;
    expect_rejected(elf, "p_memsz", 1ull << 40);
}

TEST(ElfImage, RejectsSegmentsWrappingPastTheTopOfMemory) {
    TestElf elf;
    elf.segments[2].vaddr = 0xFFFFFFFFFFFFF000ull;
    elf.segments[2].memsz = 0x2000;
    expect_rejected(elf, "p_memsz", 0x2000);
}

TEST(ElfImage, RejectsOverlapsAndSharedPages) {
    TestElf overlap;
    overlap.segments[1].vaddr = 0xFFFFFFFF80001080ull;  // inside text
    expect_rejected(overlap, "p_vaddr", 0xFFFFFFFF80001080ull);
    TestElf shared_page;
    shared_page.segments[1].vaddr = 0xFFFFFFFF80001800ull;  // no overlap in bytes, but the same 4 KiB page
    expect_rejected(shared_page, "p_vaddr", 0xFFFFFFFF80001800ull);
}

TEST(ElfImage, RejectsImagesSpanningMoreThan64MiB) {
    TestElf elf;
    elf.segments[2].vaddr = 0xFFFFFFFF80001000ull + 64 * 1024 * 1024;
    // from the text page to the end of the data segment's 0x5000 bytes
    expect_rejected(elf, "image span", 64 * 1024 * 1024 + 0x5000);
}

TEST(ElfImage, RejectsEntryOutsideExecutableCode) {
    TestElf in_data;
    in_data.entry = 0xFFFFFFFF80003000ull;
    expect_rejected(in_data, "e_entry", 0xFFFFFFFF80003000ull);
    TestElf nowhere;
    nowhere.entry = 0;
    expect_rejected(nowhere, "e_entry", 0);
}

TEST(ElfImage, RejectsDynamicAndInterpretedFiles) {
    TestElf dynamic;
    dynamic.segments.push_back(TestSegment{2, 4, 0x3800, 0xFFFFFFFF80009000ull, 0x10, 0x10});
    expect_rejected(dynamic, "p_type", 2);
    TestElf interp;
    interp.segments.push_back(TestSegment{3, 4, 0x3800, 0xFFFFFFFF80009000ull, 0x10, 0x10});
    expect_rejected(interp, "p_type", 3);
}

TEST(ElfImage, IgnoresNonLoadSegmentsButNeedsOneLoad) {
    TestElf with_note;
    with_note.segments.push_back(TestSegment{4, 4, 0x3800, 0, 0x10, 0x10});  // PT_NOTE, low address: ignored
    EXPECT_TRUE(check(with_note).ok());
    TestElf only_notes;
    only_notes.segments = {TestSegment{4, 4, 0x3800, 0, 0x10, 0x10}};
    expect_rejected(only_notes, "PT_LOAD", 0);
}

// An executable segment with no file bytes (p_filesz = 0) is all .bss: its
// "code" would be zeroes. The entry must lie below p_vaddr + p_filesz.
TEST(ElfImage, RejectsEntryInAnExecutableSegmentWithoutFileBytes) {
    TestElf empty_text;
    empty_text.segments[0].filesz = 0;
    expect_rejected(empty_text, "e_entry", 0xFFFFFFFF80001000ull);
    TestElf entry_in_bss;
    entry_in_bss.segments[0].memsz = 0x200;
    entry_in_bss.entry = 0xFFFFFFFF80001100ull;  // the first byte past p_filesz
    expect_rejected(entry_in_bss, "e_entry", 0xFFFFFFFF80001100ull);
    entry_in_bss.entry = 0xFFFFFFFF800010FFull;  // the last file-backed byte
    EXPECT_TRUE(check(entry_in_bss).ok());
}

// A kernel whose rodata is relabelled PT_TLS (type 7) would run without it.
TEST(ElfImage, RejectsThreadLocalStorageSegments) {
    TestElf tls;
    tls.segments[1].type = 7;
    expect_rejected(tls, "p_type", 7);
}

// ---- the KernelBook note: which paging depths the kernel follows (chapter 16) ----

namespace {

// A kernel file with one PT_NOTE segment of `notes` at 0x3800.
std::vector<uint8_t> with_notes(const std::vector<uint8_t>& notes) {
    TestElf elf;
    elf.segments.push_back(TestSegment{4, 4, 0x3800, 0, notes.size(), notes.size()});
    std::vector<uint8_t> bytes = elf.bytes();
    std::memcpy(bytes.data() + 0x3800, notes.data(), notes.size());
    return bytes;
}

std::vector<uint8_t> note(uint32_t name_size, const char* name, uint32_t type, std::vector<uint8_t> desc) {
    std::vector<uint8_t> out(12);
    const uint32_t desc_size = uint32_t(desc.size());
    std::memcpy(out.data(), &name_size, 4);
    std::memcpy(out.data() + 4, &desc_size, 4);
    std::memcpy(out.data() + 8, &type, 4);
    for (uint32_t i = 0; i < (name_size + 3) / 4 * 4; ++i) out.push_back(i < name_size ? uint8_t(name[i]) : 0);
    for (uint32_t i = 0; i < (desc_size + 3) / 4 * 4; ++i) out.push_back(i < desc_size ? desc[i] : 0);
    return out;
}

std::vector<uint8_t> levels(uint32_t mask) { return {uint8_t(mask), uint8_t(mask >> 8), uint8_t(mask >> 16), uint8_t(mask >> 24)}; }

Violation parse(const std::vector<uint8_t>& bytes, KernelImageLayout* layout) {
    return parse_kernel_elf(bytes.data(), bytes.size(), layout);
}

}  // namespace

TEST(ElfImage, AKernelWithoutItsNoteFollowsFourLevelsOnly) {
    KernelImageLayout layout;
    ASSERT_TRUE(check(TestElf{}, &layout).ok());
    EXPECT_EQ(layout.paging_levels, boot::kLevels4);
}

TEST(ElfImage, TheKernelBookNoteSaysWhichDepthsTheKernelFollows) {
    KernelImageLayout layout;
    // Another note first (a GNU build ID, say): skipped.
    std::vector<uint8_t> notes = note(4, "GNU", 3, {1, 2, 3, 4, 5, 6, 7, 8});
    const std::vector<uint8_t> ours = note(11, "KernelBook", 1, levels(boot::kLevels4 | boot::kLevels5));
    notes.insert(notes.end(), ours.begin(), ours.end());
    ASSERT_TRUE(parse(with_notes(notes), &layout).ok());
    EXPECT_EQ(layout.paging_levels, boot::kLevels4 | boot::kLevels5);
    // The bytes chapter 16 links are exactly such a note.
    const boot::PagingLevelsNote linked{sizeof(boot::kNoteName), 4, boot::kNotePagingLevels, "KernelBook",
                                        boot::kLevels4 | boot::kLevels5};
    std::vector<uint8_t> raw(sizeof(linked));
    std::memcpy(raw.data(), &linked, sizeof(linked));
    EXPECT_EQ(raw, ours);
}

TEST(ElfImage, RefusesAMalformedKernelBookNoteByName) {
    KernelImageLayout layout;
    Violation v = parse(with_notes(note(11, "KernelBook", 1, {5, 0})), &layout);  // a 2-byte desc
    ASSERT_FALSE(v.ok());
    EXPECT_STREQ(v.field, "KernelBook n_descsz");
    v = parse(with_notes(note(11, "KernelBook", 1, levels(boot::kLevels5))), &layout);  // not even four
    ASSERT_FALSE(v.ok());
    EXPECT_STREQ(v.field, "KernelBook paging levels");
    v = parse(with_notes(note(11, "KernelBook", 1, levels(boot::kLevels4 | (1u << 6)))), &layout);  // six levels
    ASSERT_FALSE(v.ok());
    std::vector<uint8_t> cut = note(11, "KernelBook", 1, levels(boot::kLevels4 | boot::kLevels5));
    cut.resize(cut.size() - 4);  // the segment ends inside the desc
    v = parse(with_notes(cut), &layout);
    ASSERT_FALSE(v.ok());
    EXPECT_STREQ(v.field, "PT_NOTE n_descsz");
    // A note of another name with the same type is not ours.
    ASSERT_TRUE(parse(with_notes(note(11, "KernelBoox", 1, levels(0xFF))), &layout).ok());
    EXPECT_EQ(layout.paging_levels, boot::kLevels4);
}
