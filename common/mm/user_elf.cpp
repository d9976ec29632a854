#include "mm/user_elf.h"

#include "support/elf64_header.h"

namespace mm {
namespace {

using elf64::FileHeader;
using elf64::ProgramHeader;
using elf64::read_at;

constexpr uint16_t kMaxProgramHeaders = 16;

// The header: an x86-64 executable whose program headers lie in the file.
Violation check_header(const FileHeader& h, uint64_t file_size) {
    static_assert(kMaxProgramHeaders == 16, "the rule below says 16");
    return elf64::check_executable_header(
        h, file_size, {kMaxProgramHeaders, "must be ET_EXEC (2): a statically linked program", "must be between 1 and 16"});
}

// book:begin user-segment-rules
// One PT_LOAD: bytes in the file, a page-aligned start in the program's part
// of the lower half, an end that neither wraps nor reaches kUserImageLimit,
// and W^X.
Violation check_segment(const ProgramHeader& p, uint64_t file_size) {
    if (p.file_size > p.memory_size) return reject("p_filesz", p.file_size, "must not exceed p_memsz");
    if (p.offset > file_size || p.file_size > file_size - p.offset)
        return reject("p_offset", p.offset, "segment bytes must lie inside the file");
    if (p.virtual_address % kPageSize != 0) return reject("p_vaddr", p.virtual_address, "must be 4 KiB aligned");
    if (p.virtual_address < kUserLowest.value())
        return reject("p_vaddr", p.virtual_address, "must be at or above 4 MiB (nothing is mapped near page 0)");
    if (p.memory_size > kMaxUserSegmentBytes) return reject("p_memsz", p.memory_size, "must be at most 64MiB");
    if (p.virtual_address >= kUserImageLimit.value() || p.memory_size > kUserImageLimit.value() - p.virtual_address)
        return reject("p_memsz", p.memory_size, "segment must end below 0x700000000000 (the program's part of the lower half)");
    if ((p.flags & elf64::kPfWritable) && (p.flags & elf64::kPfExecutable))
        return reject("p_flags", p.flags, "must not be both writable and executable (W^X)");
    // Text runs from the module's own frames, mapped in place (processes.cpp):
    // whole pages of the file, and nothing to zero.
    if ((p.flags & elf64::kPfExecutable) && p.offset % kPageSize != 0)
        return reject("p_offset", p.offset, "an executable segment must start on a 4 KiB boundary of the file");
    if ((p.flags & elf64::kPfExecutable) && p.memory_size != p.file_size)
        return reject("p_memsz", p.memory_size, "an executable segment must be file bytes only (p_memsz == p_filesz)");
    return accept();
}
// book:end user-segment-rules

SegmentRights rights_of(uint32_t flags) {
    if (flags & elf64::kPfExecutable) return SegmentRights::kReadExecute;
    return (flags & elf64::kPfWritable) ? SegmentRights::kReadWrite : SegmentRights::kReadOnly;
}

// The end of a segment's last page (check_segment keeps the sum far from wrapping).
uint64_t end_page(const UserSegment& s) {
    uint64_t end = 0;
    (void)align_up(s.virtual_address + s.memory_size, kPageSize, &end);
    return end;
}

}  // namespace

const char* segment_rights_name(SegmentRights rights) {
    switch (rights) {
        case SegmentRights::kReadExecute: return "r-x";
        case SegmentRights::kReadOnly: return "r--";
        case SegmentRights::kReadWrite: return "rw-";
    }
    return "?";
}

Violation parse_user_elf(const uint8_t* file, uint64_t file_size, UserImage* image) {
    *image = UserImage{};
    if (file == nullptr || file_size < sizeof(FileHeader))
        return reject("file size", file_size, "must hold at least the 64-byte ELF header");
    const auto header = read_at<FileHeader>(file, 0);
    if (Violation v = check_header(header, file_size); !v.ok()) return v;
    for (uint16_t i = 0; i < header.program_header_count; ++i) {
        const auto p = read_at<ProgramHeader>(file, header.program_header_offset + uint64_t(i) * sizeof(ProgramHeader));
        if (p.type == elf64::kPtInterp || p.type == elf64::kPtDynamic)
            return reject("p_type", p.type, "must be statically linked (no PT_INTERP, no PT_DYNAMIC)");
        if (p.type == elf64::kPtTls) return reject("p_type", p.type, "PT_TLS: the user runtime has no thread-local storage");
        if (p.type != elf64::kPtLoad || p.memory_size == 0) continue;
        if (Violation v = check_segment(p, file_size); !v.ok()) return v;
        if (image->segment_count == kMaxUserSegments) return reject("PT_LOAD count", kMaxUserSegments + 1, "must be at most 8");
        // Sorted by address as they are inserted.
        size_t at = image->segment_count++;
        for (; at > 0 && image->segments[at - 1].virtual_address > p.virtual_address; --at)
            image->segments[at] = image->segments[at - 1];
        image->segments[at] = {p.virtual_address, p.offset, p.file_size, p.memory_size, rights_of(p.flags)};
    }
    if (image->segment_count == 0) return reject("PT_LOAD", 0, "at least one loadable segment with p_memsz > 0");
    // Rights are per page: two segments may not share one.
    for (size_t i = 0; i + 1 < image->segment_count; ++i)
        if (end_page(image->segments[i]) > image->segments[i + 1].virtual_address)
            return reject("p_vaddr", image->segments[i + 1].virtual_address,
                          "PT_LOAD segments must not overlap or share a 4KiB page");
    // The entry must be file-backed bytes of an executable segment.
    image->entry = header.entry;
    for (size_t i = 0; i < image->segment_count; ++i) {
        const UserSegment& s = image->segments[i];
        if (s.rights != SegmentRights::kReadExecute || header.entry < s.virtual_address ||
            header.entry - s.virtual_address >= s.file_size)
            continue;
        return accept();
    }
    return reject("e_entry", header.entry, "must point into file-backed bytes of an executable PT_LOAD segment");
}

}  // namespace mm
