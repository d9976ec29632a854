// ELF64 on disk (System V gABI, "ELF Header" and "Program Header"): the two
// structures and the constants that both ELF readers use, the loader's for
// \kernel.elf (boot/elf_image.h) and the kernel's for user programs
// (mm/user_elf.h). Defined once, here.
#pragma once

#include <stdint.h>

namespace elf64 {

struct FileHeader {
    uint8_t ident[16];
    uint16_t type;
    uint16_t machine;
    uint32_t version;
    uint64_t entry;
    uint64_t program_header_offset;
    uint64_t section_header_offset;
    uint32_t flags;
    uint16_t header_size;
    uint16_t program_header_size;
    uint16_t program_header_count;
    uint16_t section_header_size;
    uint16_t section_header_count;
    uint16_t section_name_index;
};
static_assert(sizeof(FileHeader) == 64);

struct ProgramHeader {
    uint32_t type;
    uint32_t flags;
    uint64_t offset;
    uint64_t virtual_address;
    uint64_t physical_address;
    uint64_t file_size;
    uint64_t memory_size;
    uint64_t alignment;
};
static_assert(sizeof(ProgramHeader) == 56);

inline constexpr uint8_t kClass64 = 2, kLittleEndian = 1, kCurrentVersion = 1;
inline constexpr uint16_t kTypeExecutable = 2, kMachineX86_64 = 62;
inline constexpr uint32_t kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3, kPtNote = 4, kPtTls = 7;

// Program-header flags.
inline constexpr uint32_t kPfExecutable = 0x1;  // PF_X
inline constexpr uint32_t kPfWritable = 0x2;    // PF_W
inline constexpr uint32_t kPfReadable = 0x4;    // PF_R

// A file buffer has no alignment guarantee: headers are copied out byte by byte.
template <typename T>
T read_at(const uint8_t* file, uint64_t offset) {
    T value;
    __builtin_memcpy(&value, file + offset, sizeof(T));
    return value;
}

}  // namespace elf64
