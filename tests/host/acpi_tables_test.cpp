// Chapter 06's ACPI reader over synthetic tables: what it finds in good
// tables, and the named rule it reports for each kind of damage.
#include <gtest/gtest.h>

#include <string>

#include "acpi_builder.h"
#include "mm/acpi_tables.h"

namespace {

using mm::PhysAddr;
using mm::acpi::AcpiDevices;

Violation parse(const AcpiImage& img, AcpiDevices* out) {
    FakeAcpiMemory memory = img.memory();
    return mm::acpi::find_acpi_devices(PhysAddr(img.pa(img.rsdp_offset)), memory, out);
}

std::string field_of(const Violation& v) { return v.ok() ? "(accepted)" : v.field; }

TEST(AcpiTables, FindsIoApicAndHpetThroughTheXsdt) {
    const AcpiImage img = build_acpi();
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_EQ(d.rsdp_revision, 2);
    EXPECT_TRUE(d.uses_xsdt);
    EXPECT_EQ(d.root_table, PhysAddr(img.pa(img.root_offset)));
    EXPECT_EQ(d.root_entries, 3u);
    EXPECT_TRUE(d.has_madt);
    EXPECT_EQ(d.madt_local_apic, PhysAddr(0xFEE0'0000));
    EXPECT_EQ(d.ioapic_count, 1u);
    EXPECT_EQ(d.ioapic, PhysAddr(0xFEC0'0000));
    EXPECT_EQ(d.ioapic_id, 2);
    EXPECT_EQ(d.ioapic_gsi_base, 0u);
    EXPECT_TRUE(d.has_hpet);
    EXPECT_EQ(d.hpet, PhysAddr(0xFED0'0000));
}

TEST(AcpiTables, RevisionZeroUsesTheRsdt) {
    const AcpiImage img = build_acpi({.rsdp_revision = 0});
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_EQ(d.rsdp_revision, 0);
    EXPECT_FALSE(d.uses_xsdt);
    EXPECT_EQ(d.root_entries, 3u);
    EXPECT_EQ(d.ioapic, PhysAddr(0xFEC0'0000));
    EXPECT_EQ(d.hpet, PhysAddr(0xFED0'0000));
}

TEST(AcpiTables, MissingHpetIsAbsenceNotAnError) {
    const AcpiImage img = build_acpi({.with_hpet = false});
    AcpiDevices d;
    ASSERT_TRUE(parse(img, &d).ok());
    EXPECT_FALSE(d.has_hpet);
    EXPECT_TRUE(d.has_madt);
    EXPECT_EQ(d.ioapic, PhysAddr(0xFEC0'0000));
}

TEST(AcpiTables, MissingMadtIsAbsenceNotAnError) {
    const AcpiImage img = build_acpi({.with_madt = false});
    AcpiDevices d;
    ASSERT_TRUE(parse(img, &d).ok());
    EXPECT_FALSE(d.has_madt);
    EXPECT_EQ(d.ioapic_count, 0u);
    EXPECT_TRUE(d.has_hpet);
}

// One byte changed in each table in turn: the checksum of that table, and
// only that one, is named.
TEST(AcpiTables, BadChecksumNamesTheTable) {
    struct Case { const char* field; uint64_t AcpiImage::*offset; uint64_t byte; };
    const Case cases[] = {
        {"rsdp.checksum", &AcpiImage::rsdp_offset, 10},        // OEM ID: inside the first 20 bytes
        {"rsdp.extended_checksum", &AcpiImage::rsdp_offset, 33},  // reserved: only the extended sum sees it
        {"xsdt.checksum", &AcpiImage::root_offset, 20},
        {"madt.checksum", &AcpiImage::madt_offset, 40},
        {"hpet.checksum", &AcpiImage::hpet_offset, 53},
    };
    for (const Case& c : cases) {
        AcpiImage img = build_acpi();
        img.bytes[img.*c.offset + c.byte] ^= 0x01;
        AcpiDevices d;
        const Violation v = parse(img, &d);
        EXPECT_EQ(field_of(v), c.field);
    }
}

TEST(AcpiTables, BadRsdtChecksumWithRevisionZero) {
    AcpiImage img = build_acpi({.rsdp_revision = 0});
    img.bytes[img.root_offset + 16] ^= 0x80;
    AcpiDevices d;
    EXPECT_EQ(field_of(parse(img, &d)), "rsdt.checksum");
}

TEST(AcpiTables, ChecksumViolationCarriesTheEntryIndex) {
    AcpiImage img = build_acpi();
    img.bytes[img.hpet_offset + 53] ^= 0x01;
    AcpiDevices d;
    const Violation v = parse(img, &d);
    ASSERT_EQ(field_of(v), "hpet.checksum");
    EXPECT_EQ(v.index, 2u);  // FACP, MADT, HPET
    EXPECT_EQ(v.value, 0x01u);
    EXPECT_EQ(std::string(v.rule), "the table's bytes must sum to 0 (mod 256)");
}

TEST(AcpiTables, LengthPastTheEndOfReadableMemoryIsRejected) {
    AcpiImage img = build_acpi();
    img.put<uint32_t>(img.hpet_offset + 4, 4096);  // the buffer ends well before that
    AcpiDevices d;
    const Violation v = parse(img, &d);
    EXPECT_EQ(field_of(v), "hpet.length");
    EXPECT_EQ(v.value, 4096u);
}

TEST(AcpiTables, LengthBelowTheFixedPartOrAbove64KiBIsRejected) {
    for (uint32_t bad : {0u, 35u, 43u, 64u * 1024 + 1, 0xFFFF'FFFFu}) {
        AcpiImage img = build_acpi();
        img.put<uint32_t>(img.madt_offset + 4, bad);
        AcpiDevices d;
        const Violation v = parse(img, &d);
        EXPECT_EQ(field_of(v), "madt.length") << bad;
        EXPECT_EQ(v.value, bad);
    }
}

TEST(AcpiTables, TruncatedXsdtLengthIsRejected) {
    AcpiImage img = build_acpi();
    img.put<uint32_t>(img.root_offset + 4, uint32_t(mm::acpi::kHeaderLength + 3));  // not whole entries
    img.fix_table(img.root_offset);
    AcpiDevices d;
    EXPECT_EQ(field_of(parse(img, &d)), "xsdt.length");
}

TEST(AcpiTables, MadtEntryRunningPastTheTableIsRejected) {
    AcpiImage img = build_acpi();
    img.bytes[img.madt_offset + 44 + 8 + 1] = 200;  // the IOAPIC entry claims 200 bytes
    img.fix_table(img.madt_offset);
    AcpiDevices d;
    const Violation v = parse(img, &d);
    EXPECT_EQ(field_of(v), "madt.entry.length");
    EXPECT_EQ(v.index, 1u);
}

TEST(AcpiTables, MadtEntryOfLengthZeroIsRejectedNotLoopedOn) {
    AcpiImage img = build_acpi();
    img.bytes[img.madt_offset + 44 + 1] = 0;
    img.fix_table(img.madt_offset);
    AcpiDevices d;
    EXPECT_EQ(field_of(parse(img, &d)), "madt.entry.length");
}

TEST(AcpiTables, HpetOutsideSystemMemoryIsRejected) {
    AcpiImage img = build_acpi();
    img.bytes[img.hpet_offset + 40] = 1;  // system I/O space
    img.fix_table(img.hpet_offset);
    AcpiDevices d;
    EXPECT_EQ(field_of(parse(img, &d)), "hpet.address_space");
}

TEST(AcpiTables, BadSignaturesAreNamed) {
    {
        AcpiImage img = build_acpi();
        img.bytes[img.rsdp_offset] = 'X';
        AcpiDevices d;
        EXPECT_EQ(field_of(parse(img, &d)), "rsdp.signature");
    }
    {
        AcpiImage img = build_acpi();
        img.bytes[img.root_offset] = 'R';  // "RSDT" where the RSDP promised an XSDT
        img.fix_table(img.root_offset);
        AcpiDevices d;
        EXPECT_EQ(field_of(parse(img, &d)), "xsdt.signature");
    }
}

TEST(AcpiTables, AnUnreadableRsdpIsNamed) {
    AcpiImage img = build_acpi();
    AcpiDevices d;
    FakeAcpiMemory memory = img.memory();
    const Violation v = mm::acpi::find_acpi_devices(PhysAddr(0x1000), memory, &d);
    EXPECT_EQ(field_of(v), "rsdp");
    EXPECT_EQ(v.value, 0x1000u);
}

// ---- what real firmware does, tolerated -----------------------------------------------

// EDK2 keeps an empty XSDT slot for the FADT; ACPICA skips null entries.
TEST(AcpiTables, NullXsdtEntryIsSkippedAndCounted) {
    const AcpiImage img = build_acpi({.null_entry = true});
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_EQ(d.root_entries, 4u);  // null, FACP, MADT, HPET
    EXPECT_EQ(d.null_entries, 1u);
    EXPECT_EQ(d.unreadable_entries, 0u);
    EXPECT_EQ(d.ioapic, PhysAddr(0xFEC0'0000));
    EXPECT_EQ(d.hpet, PhysAddr(0xFED0'0000));
}

TEST(AcpiTables, NullRsdtEntryIsSkippedAndCounted) {
    const AcpiImage img = build_acpi({.rsdp_revision = 0, .null_entry = true});
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_FALSE(d.uses_xsdt);
    EXPECT_EQ(d.null_entries, 1u);
    EXPECT_TRUE(d.has_madt && d.has_hpet);
}

// A table the kernel does not use is identified by its signature and never
// read further: its checksum and length cannot stop the boot.
TEST(AcpiTables, BadChecksumOnAnUnrelatedTableIsNotOurs) {
    AcpiImage img = build_acpi();
    img.bytes[img.extra_offset + 20] ^= 0x01;  // the FACP's bytes no longer sum to 0
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_TRUE(d.has_madt && d.has_hpet);

    img.put<uint32_t>(img.extra_offset + 4, 0xFFFF'FFFFu);  // and a length far past the buffer
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_EQ(d.ioapic, PhysAddr(0xFEC0'0000));
}

// An entry the reader cannot read (the kernel's reader: outside WB RAM) is
// skipped and counted, the first one remembered for the log.
TEST(AcpiTables, UnrelatedTableOutsideReadableMemoryIsSkipped) {
    const AcpiImage img = build_acpi({.outside_entry = 0xB000'0000});  // QEMU's PCIe ECAM: not RAM
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_EQ(d.root_entries, 4u);  // FACP, the one outside, MADT, HPET
    EXPECT_EQ(d.unreadable_entries, 1u);
    EXPECT_EQ(d.first_unreadable_index, 1u);
    EXPECT_EQ(d.first_unreadable_address, 0xB000'0000u);
    EXPECT_TRUE(d.has_madt && d.has_hpet);
}

TEST(AcpiTables, EntryBeyondPhysicalAddressesIsSkipped) {
    const AcpiImage img = build_acpi({.outside_entry = 1ull << 60});
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_EQ(d.unreadable_entries, 1u);
    EXPECT_EQ(d.first_unreadable_address, 1ull << 60);
}

// An entry that could have been the MADT, unreadable: the MADT is absent, not an error.
TEST(AcpiTables, UnreadableMadtEntryMeansNoMadt) {
    AcpiImage img = build_acpi();
    img.put<uint64_t>(img.root_offset + 36 + 8, 0xDEAD'0000);  // the MADT's entry
    img.fix_table(img.root_offset);
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_FALSE(d.has_madt);
    EXPECT_EQ(d.ioapic_count, 0u);
    EXPECT_EQ(d.unreadable_entries, 1u);
    EXPECT_EQ(d.first_unreadable_index, 1u);
    EXPECT_TRUE(d.has_hpet);
}

// ACPICA: the XSDT when revision >= 2 and its address is not 0, else the RSDT.
TEST(AcpiTables, RevisionTwoWithXsdtZeroUsesTheRsdt) {
    const AcpiImage img = build_acpi({.xsdt_address_zero = true});
    ASSERT_EQ(img.get<uint64_t>(img.rsdp_offset + 24), 0u);
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_EQ(d.rsdp_revision, 2);
    EXPECT_FALSE(d.uses_xsdt);
    EXPECT_EQ(d.root_table, PhysAddr(img.pa(img.root_offset)));
    EXPECT_EQ(d.ioapic, PhysAddr(0xFEC0'0000));
    EXPECT_EQ(d.hpet, PhysAddr(0xFED0'0000));
}

TEST(AcpiTables, RevisionTwoWithNeitherRootIsNamed) {
    AcpiImage img = build_acpi({.xsdt_address_zero = true});
    img.put<uint32_t>(img.rsdp_offset + 16, 0);
    img.fix_rsdp();
    AcpiDevices d;
    const Violation v = parse(img, &d);
    EXPECT_EQ(field_of(v), "rsdp.rsdt_address");
    EXPECT_EQ(std::string(v.rule), "must not be 0 when xsdt_address is 0");
}

TEST(AcpiTables, RevisionTwoRsdtFallbackStillChecksTheRsdt) {
    AcpiImage img = build_acpi({.xsdt_address_zero = true});
    img.bytes[img.root_offset + 20] ^= 0x01;
    AcpiDevices d;
    EXPECT_EQ(field_of(parse(img, &d)), "rsdt.checksum");
}

// Both there: the XSDT, and the RSDT is not even read.
TEST(AcpiTables, WithBothRootsTheXsdtWins) {
    AcpiImage img = build_acpi({.rsdt_too = true});
    ASSERT_NE(img.get<uint32_t>(img.rsdp_offset + 16), 0u);
    img.bytes[img.rsdt_offset + 20] ^= 0x01;  // a damaged RSDT: not ours to read
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_TRUE(d.uses_xsdt);
    EXPECT_EQ(d.root_table, PhysAddr(img.pa(img.root_offset)));
    EXPECT_TRUE(d.has_madt && d.has_hpet);
}

TEST(AcpiTables, NeitherMadtNorHpetIsAbsenceNotAnError) {
    const AcpiImage img = build_acpi({.with_madt = false, .with_hpet = false, .null_entry = true});
    AcpiDevices d;
    ASSERT_EQ(field_of(parse(img, &d)), "(accepted)");
    EXPECT_FALSE(d.has_madt || d.has_hpet);
    EXPECT_EQ(d.ioapic_count, 0u);
    EXPECT_EQ(d.root_entries, 2u);  // null, FACP
}

// The tables the kernel uses stay strict, in every root-table flavour.
TEST(AcpiTables, TablesWeUseAreStillCheckedWhenTheRootHasQuirks) {
    AcpiImage img = build_acpi({.null_entry = true, .outside_entry = 0xB000'0000});
    img.bytes[img.madt_offset + 40] ^= 0x01;
    AcpiDevices d;
    const Violation v = parse(img, &d);
    EXPECT_EQ(field_of(v), "madt.checksum");
    EXPECT_EQ(v.index, 3u);  // null, FACP, outside, MADT
}

}  // namespace
