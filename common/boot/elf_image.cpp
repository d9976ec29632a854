#include "boot/elf_image.h"

#include "boot/kernel_note.h"
#include "support/elf64_header.h"
#include "support/units.h"

namespace boot::elf {
namespace {

using elf64::FileHeader;
using elf64::ProgramHeader;
using elf64::read_at;
using elf64::kClass64, elf64::kLittleEndian, elf64::kCurrentVersion, elf64::kTypeExecutable, elf64::kMachineX86_64;
using elf64::kPtLoad, elf64::kPtDynamic, elf64::kPtInterp, elf64::kPtNote, elf64::kPtTls;

Violation check_header(const FileHeader& h, uint64_t file_size) {
    static_assert(kMaxProgramHeaders == 64, "the rule below says 64");
    return elf64::check_executable_header(
        h, file_size, {kMaxProgramHeaders, "must be ET_EXEC (2): a statically linked kernel", "must be between 1 and 64"});
}

Violation check_load_segment(const ProgramHeader& p, uint64_t file_size) {
    if (p.file_size > p.memory_size) return reject("p_filesz", p.file_size, "must not exceed p_memsz");
    if (p.offset > file_size || p.file_size > file_size - p.offset)
        return reject("p_offset", p.offset, "segment bytes must lie inside the file");
    if (p.virtual_address < kHigherHalfBase)
        return reject("p_vaddr", p.virtual_address, "must be in the higher half (>= 0xffff800000000000)");
    if ((p.flags & kSegmentWritable) && (p.flags & kSegmentExecutable))
        return reject("p_flags", p.flags, "must not be both writable and executable (W^X)");
    if (p.memory_size > kMaxImageSpan) return reject("p_memsz", p.memory_size, "must be at most 64MiB");
    uint64_t end = 0;
    if (__builtin_add_overflow(p.virtual_address, p.memory_size, &end) || !align_up(end, kPageSize, &end))
        return reject("p_memsz", p.memory_size, "segment end must not pass the top of the address space");
    return accept();
}

void insert_sorted(KernelImageLayout* layout, const LoadSegment& segment) {
    size_t i = layout->segment_count++;
    while (i > 0 && layout->segments[i - 1].virtual_address > segment.virtual_address) {
        layout->segments[i] = layout->segments[i - 1];
        --i;
    }
    layout->segments[i] = segment;
}

uint64_t segment_end(const LoadSegment& s) { return s.virtual_address + s.memory_size; }

// Permissions are set per 4 KiB page, so two segments may not share a page:
// their page-rounded ranges must be disjoint.
Violation check_layout(KernelImageLayout* layout) {
    if (layout->segment_count == 0) return reject("PT_LOAD", 0, "at least one loadable segment with p_memsz > 0");
    for (size_t i = 0; i + 1 < layout->segment_count; ++i) {
        uint64_t end_page = 0;
        align_up(segment_end(layout->segments[i]), kPageSize, &end_page);  // checked in check_load_segment
        if (end_page > align_down(layout->segments[i + 1].virtual_address, kPageSize))
            return reject("p_vaddr", layout->segments[i + 1].virtual_address,
                          "PT_LOAD segments must not overlap or share a 4KiB page");
    }
    const uint64_t base = align_down(layout->segments[0].virtual_address, kPageSize);
    uint64_t top = 0;
    align_up(segment_end(layout->segments[layout->segment_count - 1]), kPageSize, &top);
    if (top - base > kMaxImageSpan) return reject("image span", top - base, "all segments must fit in 64MiB");
    layout->virtual_base = base;
    layout->span = top - base;

    // The first instruction must be bytes the file supplies: an entry in an
    // executable segment's .bss part (or in one with p_filesz = 0) would run
    // zeroes, which decode as `add [rax], al` and fault in the firmware's
    // exception handler instead of failing the boot by name.
    for (size_t i = 0; i < layout->segment_count; ++i) {
        const LoadSegment& s = layout->segments[i];
        if (!(s.flags & kSegmentExecutable) || layout->entry < s.virtual_address || layout->entry >= segment_end(s))
            continue;
        if (layout->entry - s.virtual_address >= s.file_size)
            return reject("e_entry", layout->entry, "must point into file-backed bytes of its segment (below p_vaddr + p_filesz)");
        return accept();
    }
    return reject("e_entry", layout->entry, "must point into an executable PT_LOAD segment");
}


// The notes of one PT_NOTE segment: each (name, type) the loader knows is
// read, anything else skipped. A note that runs past its segment, or a
// KernelBook note of the wrong size, is refused by name.
Violation read_notes(const uint8_t* file, uint64_t file_size, const ProgramHeader& p, KernelImageLayout* layout) {
    if (p.offset > file_size || p.file_size > file_size - p.offset)
        return reject("PT_NOTE p_filesz", p.file_size, "must lie within the file");
    uint64_t at = p.offset;
    const uint64_t end = p.offset + p.file_size;
    while (end - at >= 12) {
        const uint32_t name_size = read_at<uint32_t>(file, at), desc_size = read_at<uint32_t>(file, at + 4);
        const uint32_t type = read_at<uint32_t>(file, at + 8);
        const uint64_t name_at = at + 12, desc_at = name_at + ((uint64_t(name_size) + 3) & ~uint64_t(3));
        const uint64_t next = desc_at + ((uint64_t(desc_size) + 3) & ~uint64_t(3));
        if (desc_at > end || next > end) return reject("PT_NOTE n_descsz", desc_size, "a note must lie within its segment");
        bool ours = name_size == sizeof(boot::kNoteName);
        for (uint64_t i = 0; ours && i < sizeof(boot::kNoteName); ++i) ours = file[name_at + i] == uint8_t(boot::kNoteName[i]);
        if (ours && type == boot::kNotePagingLevels) {
            if (desc_size != sizeof(uint32_t)) return reject("KernelBook n_descsz", desc_size, "must be 4");
            const uint32_t levels = read_at<uint32_t>(file, desc_at);
            if (!(levels & boot::kLevels4) || (levels & ~(boot::kLevels4 | boot::kLevels5)))
                return reject("KernelBook paging levels", levels, "must include 4 levels, and name no depth but 4 and 5");
            layout->paging_levels = levels;
        }
        at = next;
    }
    return accept();
}

}  // namespace

Violation parse_kernel_elf(const uint8_t* file, uint64_t file_size, KernelImageLayout* layout) {
    *layout = KernelImageLayout{};
    layout->paging_levels = boot::kLevels4;
    if (file == nullptr || file_size < sizeof(FileHeader))
        return reject("file size", file_size, "must hold at least the 64-byte ELF header");
    const auto header = read_at<FileHeader>(file, 0);
    if (Violation v = check_header(header, file_size); !v.ok()) return v;
    layout->entry = header.entry;

    for (uint16_t i = 0; i < header.program_header_count; ++i) {
        const auto p = read_at<ProgramHeader>(file, header.program_header_offset + uint64_t(i) * sizeof(ProgramHeader));
        if (p.type == kPtInterp) return reject("p_type", p.type, "PT_INTERP: the kernel must not need an interpreter");
        if (p.type == kPtDynamic) return reject("p_type", p.type, "PT_DYNAMIC: the kernel must be statically linked");
        // Nothing would load a PT_TLS segment's bytes or point a TLS register
        // at them: a kernel that needs one (or whose data was relabelled so)
        // would read zeroes where it expects its data.
        if (p.type == kPtTls) return reject("p_type", p.type, "PT_TLS: the kernel must not use thread-local storage");
        if (p.type == kPtNote) {
            if (Violation v = read_notes(file, file_size, p, layout); !v.ok()) return v;
            continue;
        }
        if (p.type != kPtLoad || p.memory_size == 0) continue;  // GNU_STACK, ...: nothing to load
        if (Violation v = check_load_segment(p, file_size); !v.ok()) return v;
        if (layout->segment_count == kMaxLoadSegments)
            return reject("PT_LOAD count", layout->segment_count + 1, "must be at most 16");
        insert_sorted(layout, {p.virtual_address, p.offset, p.file_size, p.memory_size, p.flags});
    }
    return check_layout(layout);
}

}  // namespace boot::elf
