// The ELF header checks both readers make, the loader's of \kernel.elf
// (boot/elf_image.h) and the kernel's of user programs (mm/user_elf.h): a
// 64-bit little-endian x86-64 executable of the current version whose
// program-header table lies inside the file. What differs between the two
// (how many program headers, what the executable is) comes in as rules.
#pragma once

#include <stdint.h>

#include "support/elf64.h"
#include "support/violation.h"

namespace elf64 {

struct ExecutableRules {
    uint16_t max_program_headers;
    const char* type_rule;   // e.g. "must be ET_EXEC (2): a statically linked kernel"
    const char* phnum_rule;  // e.g. "must be between 1 and 64"
};

inline Violation check_executable_header(const FileHeader& h, uint64_t file_size, const ExecutableRules& rules) {
    if (h.ident[0] != 0x7f || h.ident[1] != 'E' || h.ident[2] != 'L' || h.ident[3] != 'F')
        return reject("e_ident.magic", read_at<uint32_t>(h.ident, 0), "must be 0x7f 'E' 'L' 'F'");
    if (h.ident[4] != kClass64) return reject("e_ident.class", h.ident[4], "must be ELFCLASS64 (2)");
    if (h.ident[5] != kLittleEndian) return reject("e_ident.data", h.ident[5], "must be ELFDATA2LSB (1)");
    if (h.ident[6] != kCurrentVersion) return reject("e_ident.version", h.ident[6], "must be EV_CURRENT (1)");
    if (h.type != kTypeExecutable) return reject("e_type", h.type, rules.type_rule);
    if (h.machine != kMachineX86_64) return reject("e_machine", h.machine, "must be EM_X86_64 (0x3e)");
    if (h.version != kCurrentVersion) return reject("e_version", h.version, "must be EV_CURRENT (1)");
    if (h.program_header_size != sizeof(ProgramHeader))
        return reject("e_phentsize", h.program_header_size, "must be 56, the size of an ELF64 program header");
    if (h.program_header_count == 0 || h.program_header_count > rules.max_program_headers)
        return reject("e_phnum", h.program_header_count, rules.phnum_rule);
    // offset + count * 56 <= file_size, without letting the sum wrap around.
    const uint64_t table_bytes = uint64_t(h.program_header_count) * sizeof(ProgramHeader);
    if (h.program_header_offset > file_size || table_bytes > file_size - h.program_header_offset)
        return reject("e_phoff", h.program_header_offset, "program header table must lie inside the file");
    return accept();
}

}  // namespace elf64
