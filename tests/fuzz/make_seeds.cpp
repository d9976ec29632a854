// Writes the seed corpus of each fuzz target (tests/fuzz/corpus/<target>/):
// well-formed inputs the fuzzers mutate from, so they start deep inside the
// parsers instead of at their first magic-number check. Rerun after changing
// an input format: `make fuzz-seeds`.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "acpi_builder.h"
#include "elf_builder.h"
#include "memory_map_builder.h"

namespace {

void write(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
        std::perror(path.c_str());
        std::exit(1);
    }
    std::fclose(f);
}

template <typename T>
void append(std::vector<uint8_t>& out, T value) {
    const size_t at = out.size();
    out.resize(at + sizeof(T));
    std::memcpy(out.data() + at, &value, sizeof(T));
}

// memory_map_fuzz's input: its Header, then the descriptors.
std::vector<uint8_t> map_input(const FakeMemoryMap& map, const uint64_t (&loader)[6]) {
    std::vector<uint8_t> out;
    append<uint32_t>(out, map.stride);
    append<uint32_t>(out, boot::kEfiMemoryDescriptorVersion);
    append<uint32_t>(out, uint32_t(map.bytes.size()));
    append<uint32_t>(out, 0);
    for (uint64_t field : loader) append<uint64_t>(out, field);
    out.insert(out.end(), map.bytes.begin(), map.bytes.end());
    return out;
}

// page_table_fuzz's input: the CPU's 1 GiB support (bit 0 of one byte), then
// requests of (va, pa, pages, selector, policy).
struct Request {
    uint64_t va, pa;
    uint16_t length;
    uint8_t selector, policy;
};
std::vector<uint8_t> requests(std::initializer_list<Request> list) {
    std::vector<uint8_t> out;
    for (const Request& r : list) {
        append(out, r.va);
        append(out, r.pa);
        append(out, r.length);
        append(out, r.selector);
        append(out, r.policy);
    }
    return out;
}

// The leading byte of page_table_fuzz's and address_space_audit_fuzz's input:
// a CPU with 1 GiB pages.
std::vector<uint8_t> with_1gib_pages(std::vector<uint8_t> rest) {
    rest.insert(rest.begin(), uint8_t{1});
    return rest;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
        return 2;
    }
    const std::string root = argv[1];

    write(root + "/elf_image", "kernel-three-segments", TestElf{}.bytes());
    TestElf one_segment;
    one_segment.segments.resize(1);
    write(root + "/elf_image", "kernel-text-only", one_segment.bytes());

    TestElf program;  // a user program as common/user/user.ld links it
    program.entry = 0x400000;
    program.segments = {TestSegment{1, 5, 0x1000, 0x400000, 0x80, 0x80}, TestSegment{1, 4, 0x2000, 0x401000, 0x20, 0x20},
                        TestSegment{1, 6, 0x3000, 0x402000, 0x10, 0x3000}};
    write(root + "/user_elf", "program-three-segments", program.bytes());
    program.segments.resize(1);
    write(root + "/user_elf", "program-text-only", program.bytes());

    using boot::EfiMemoryType;
    FakeMemoryMap ovmf_like;  // the shape of OVMF's map at 128 MiB, in its order
    ovmf_like.add(EfiMemoryType::kBootServicesCode, 0x0, 1)
        .add(EfiMemoryType::kConventional, 0x1000, 0x9F)
        .add(EfiMemoryType::kConventional, 0x100000, 0x706)
        .add(EfiMemoryType::kAcpiNvs, 0x806000, 2)
        .add(EfiMemoryType::kConventional, 0x900000, 0x5000)
        .add(EfiMemoryType::kKernelImage, 0x5900000, 0x37)
        .add(EfiMemoryType::kBootPageTables, 0x5937000, 9)
        .add(EfiMemoryType::kBootStack, 0x5940000, 0x10)
        .add(EfiMemoryType::kBootHandoff, 0x5950000, 3)
        .add(EfiMemoryType::kRuntimeServicesData, 0x6AA0000, 0x102, boot::kEfiMemoryWb | boot::kEfiMemoryRuntime)
        .add(EfiMemoryType::kAcpiReclaim, 0x776C000, 0x12)
        .add(EfiMemoryType::kReserved, 0xB0000000, 0x10000, boot::kEfiMemoryUc)
        .add(EfiMemoryType::kMmio, 0xFFC00000, 0x400, boot::kEfiMemoryUc | boot::kEfiMemoryRuntime)
        .add(EfiMemoryType::kConventional, 0x100000000, 0x80000);
    const uint64_t loader[6] = {0x5900000, 0x37000, 0x5937000, 0x5940000, 0x10000, 0x5952000};
    write(root + "/memory_map", "ovmf-like", map_input(ovmf_like, loader));
    FakeMemoryMap stride40(40);
    stride40.add(EfiMemoryType::kConventional, 0x100000, 0x100).add(EfiMemoryType::kLoaderData, 0x200000, 0x10);
    write(root + "/memory_map", "stride-40", map_input(stride40, loader));

    write(root + "/page_table", "identity-and-kernel",
          with_1gib_pages(requests({{0x1000, 0x1000, 511, 0, 5},                 // identity [4 KiB, 2 MiB)
                    {0x200000, 0x200000, 3, 0x20, 5},            // then 3 x 2 MiB
                    {0x80001000, 0x5901000, 3, 3, 0},            // kernel text (4 KiB only)
                    {0x80004000, 0x5904000, 1, 3, 1},            // rodata
                    {0x80005000, 0x5905000, 50, 3, 2}})));       // data
    write(root + "/page_table", "phys-window-1gib",
          with_1gib_pages(requests({{0x0, 0x0, 2, 0x22, 3}, {0x40000000, 0x40000000, 512, 0x21, 4}, {0x1000, 0x1000, 1, 0, 2}})));
    std::vector<uint8_t> no_1gib = requests({{0x0, 0x0, 2, 0x22, 3}, {0x40000000, 0x40000000, 0, 0x10, 5}});
    no_1gib.insert(no_1gib.begin(), uint8_t{0});  // a CPU without 1 GiB pages: 2 MiB where 1 GiB would fit
    write(root + "/page_table", "phys-window-no-1gib", no_1gib);
    // Under the fuzz target's MTRRs: a gigabyte with a UC quarter, a 2 MiB
    // block with one UC page, the first MiB's fixed ranges.
    write(root + "/page_table", "mtrr-splits",
          with_1gib_pages(requests({{0x40000000, 0x40000000, 0, 0x10, 6}, {0x80000000, 0x80000000, 2, 0x20, 6},
                    {0x0, 0x0, 2, 0x20, 7}})));
    FakeMemoryMap refused;  // RAM types without WB, and types nobody knows
    refused.add(EfiMemoryType::kConventional, 0x100000, 0x100)
        .add(EfiMemoryType::kAcpiNvs, 0x200000, 0x10, boot::kEfiMemoryUc)
        .add(EfiMemoryType::kUnusable, 0x210000, 0x10)
        .add(EfiMemoryType::kPersistent, 0x220000, 0x10)
        .add(EfiMemoryType(0x70000001), 0x230000, 0x10)
        .add(EfiMemoryType::kConventional, 0x240000, 0x10, boot::kEfiMemoryUc);
    write(root + "/memory_map", "not-ram", map_input(refused, loader));

    // address_space_audit_fuzz's input: the CPU's 1 GiB support, a request count, the requests, then
    // damage records (table, entry, raw value): none, a W+X leaf, a stray bit.
    auto audit_input = [](std::vector<uint8_t> reqs, uint8_t count, std::initializer_list<std::vector<uint8_t>> damage) {
        std::vector<uint8_t> out{count};
        out.insert(out.end(), reqs.begin(), reqs.end());
        for (const std::vector<uint8_t>& d : damage) out.insert(out.end(), d.begin(), d.end());
        return with_1gib_pages(out);
    };
    auto damage = [](uint8_t table, uint16_t entry, uint64_t raw) {
        std::vector<uint8_t> out;
        append(out, table);
        append(out, entry);
        append(out, raw);
        return out;
    };
    const std::vector<uint8_t> kernel_like =
        requests({{0x80001000, 0x5901000, 3, 3, 0}, {0x80004000, 0x5904000, 1, 3, 1}, {0x80005000, 0x5905000, 50, 3, 2},
                  {0x0, 0x0, 2, 0x22, 3}, {0x1000, 0xfee00000, 1, 2, 5}, {0x200000, 0xc0000000, 2, 0x21, 6}});
    write(root + "/address_space_audit", "clean", audit_input(kernel_like, 6, {}));
    write(root + "/address_space_audit", "wx-and-stray",
          audit_input(kernel_like, 6, {damage(3, 1, 0x5901000 | 0x3), damage(3, 9, 0x5909000)}));
    write(root + "/address_space_audit", "shared-table", audit_input(kernel_like, 6, {damage(0, 7, 0x10'0000'1000ull | 0x3)}));

    // acpi_tables_fuzz's input: the RSDP's offset, then the tables (build_acpi puts the RSDP first).
    auto acpi_input = [](const AcpiImage& img) {
        std::vector<uint8_t> out;
        append<uint16_t>(out, uint16_t(img.rsdp_offset));
        out.insert(out.end(), img.bytes.begin(), img.bytes.end());
        return out;
    };
    // steady_state_fuzz's input: operations (see the target), here mixed
    // allocations, frees and bad frees of both allocators.
    std::vector<uint8_t> steady;
    for (int i = 0; i < 40; ++i) {
        append<uint8_t>(steady, 0);  // heap allocate
        append<uint16_t>(steady, uint16_t(i * 97 % 3000));
        append<uint8_t>(steady, uint8_t(i % 5));
        if (i % 3 == 2) {
            append<uint8_t>(steady, 1);  // heap free (and again)
            append<uint8_t>(steady, uint8_t(i));
        }
        append<uint8_t>(steady, 3);  // frame allocate
        if (i % 4 == 3) {
            append<uint8_t>(steady, 4);  // frame free (and again)
            append<uint8_t>(steady, uint8_t(i));
            append<uint8_t>(steady, 2);  // heap free inside a payload
            append<uint8_t>(steady, uint8_t(i));
            append<uint8_t>(steady, 32);
            append<uint8_t>(steady, 5);  // frame free of some address
            append<uint32_t>(steady, uint32_t(i * 7 * 0x101));
        }
    }
    write(root + "/steady_state", "mixed", steady);
    // user_regions_fuzz's input: adds, a split by remove, protects, kernel-chosen adds.
    const std::vector<uint8_t> regions = {0, 0, 8, 3,   0, 20, 4, 1,   1, 2, 2,   2, 0, 2, 1,   2, 0, 8, 1,
                                          3, 0, 3,      3, 0, 1,       0, 3, 1, 5, 1, 0, 30, 2, 0, 40, 0, 7};
    write(root + "/user_regions", "add-split-protect", regions);
    // copy_on_write_fuzz's input: operations (see the target): process 0
    // maps data and rodata, forks (twice out of frames first), the processes
    // write shared and unshared pages, unmap and protect some, and exit in turn.
    std::vector<uint8_t> cow;
    auto cow_op = [&](std::initializer_list<uint8_t> bytes) { cow.insert(cow.end(), bytes); };
    for (uint8_t page = 0; page < 6; ++page) cow_op({0, 0, page, uint8_t(page != 5)});  // map: 5 data, 1 rodata
    cow_op({0, 0, 9, 1});     // data under a second page table
    cow_op({1, 0, 2});        // fork with 2 frames left: refused, nothing changed
    cow_op({1, 0, 5});        // with 5 (6 tables needed): refused after pages 0-5, which are undone
    cow_op({1, 0, 0xFF});     // fork: process 1
    cow_op({2, 1, 0, 0xFF});  // the child writes page 0: copied
    cow_op({2, 0, 0, 0xFF});  // the parent writes page 0: taken over
    cow_op({2, 0, 1, 0});     // the parent writes page 1 with no frame left: refused
    cow_op({2, 0, 1, 0xFF});  // again with frames: copied
    cow_op({2, 1, 5, 0xFF});  // rodata: a real protection fault, not written
    cow_op({1, 1, 0xFF});     // the child forks: process 2
    cow_op({2, 2, 2, 0xFF});
    cow_op({4, 1, 3});        // the child unmaps page 3 (still the parent's)
    cow_op({5, 1, 4, 1});     // mprotect(RW) of a shared page: read-only, copy-on-write
    cow_op({5, 0, 9, 0});     // mprotect(R): a write to it is a real fault
    cow_op({2, 0, 9, 0xFF});
    cow_op({3, 1});           // the child exits
    cow_op({2, 0, 3, 0xFF});
    cow_op({3, 0});
    write(root + "/copy_on_write", "fork-write-exit", cow);
    write(root + "/acpi_tables", "xsdt-madt-hpet", acpi_input(build_acpi()));
    write(root + "/acpi_tables", "rsdt-revision-0", acpi_input(build_acpi({.rsdp_revision = 0})));
    write(root + "/acpi_tables", "no-hpet", acpi_input(build_acpi({.with_hpet = false})));
    write(root + "/acpi_tables", "null-entry-and-one-outside",
          acpi_input(build_acpi({.null_entry = true, .outside_entry = 0xB000'0000})));
    write(root + "/acpi_tables", "revision-2-xsdt-zero", acpi_input(build_acpi({.xsdt_address_zero = true})));
    write(root + "/acpi_tables", "hpet-in-ram", acpi_input(build_acpi({.hpet_address = 0x10'0000, .rsdt_too = true})));
    return 0;
}
