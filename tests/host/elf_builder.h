// Builds small ELF64 files in memory for the validator's tests: a valid kernel
// by default, which each test then breaks in exactly one way.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

struct TestSegment {
    uint32_t type = 1;  // PT_LOAD
    uint32_t flags = 5;  // R+X
    uint64_t offset = 0x1000;
    uint64_t vaddr = 0xFFFFFFFF80001000ull;
    uint64_t filesz = 0x100;
    uint64_t memsz = 0x100;
};

struct TestElf {
    uint8_t ident_class = 2, ident_data = 1, ident_version = 1;
    uint16_t type = 2, machine = 62, phentsize = 56;
    uint32_t version = 1;
    uint64_t entry = 0xFFFFFFFF80001000ull;
    uint64_t phoff = 64;
    std::vector<TestSegment> segments{
        TestSegment{},  // text
        TestSegment{1, 4, 0x2000, 0xFFFFFFFF80002000ull, 0x80, 0x80},  // rodata
        TestSegment{1, 6, 0x3000, 0xFFFFFFFF80003000ull, 0x10, 0x5000},  // data + bss
    };
    size_t file_size = 0x4000;
    int phnum_override = -1;

    std::vector<uint8_t> bytes() const {
        std::vector<uint8_t> out(file_size, 0);
        auto put = [&](size_t at, const void* value, size_t n) {
            if (at <= out.size() && n <= out.size() - at) std::memcpy(out.data() + at, value, n);  // no wrap-around
        };
        const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', ident_class, ident_data, ident_version};
        put(0, ident, 16);
        put(16, &type, 2);
        put(18, &machine, 2);
        put(20, &version, 4);
        put(24, &entry, 8);
        put(32, &phoff, 8);
        const uint16_t header_size = 64;
        put(52, &header_size, 2);
        put(54, &phentsize, 2);
        const uint16_t phnum = phnum_override >= 0 ? uint16_t(phnum_override) : uint16_t(segments.size());
        put(56, &phnum, 2);
        for (size_t i = 0; i < segments.size(); ++i) {
            const TestSegment& s = segments[i];
            const size_t at = phoff + i * 56;
            put(at, &s.type, 4);
            put(at + 4, &s.flags, 4);
            put(at + 8, &s.offset, 8);
            put(at + 16, &s.vaddr, 8);
            put(at + 24, &s.vaddr, 8);
            put(at + 32, &s.filesz, 8);
            put(at + 40, &s.memsz, 8);
            const uint64_t align = 0x1000;
            put(at + 48, &align, 8);
        }
        return out;
    }
};
