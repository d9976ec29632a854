// Fuzz target: the kernel's user-ELF reader (chapter 12). Any byte string may
// be a boot module; an accepted one must describe segments the process
// builder can map without a second check: sorted, page-aligned, inside the
// program's part of the lower half, W^X, no page shared, text file-backed
// and page-aligned in the file, and the entry in file bytes of the text.
#include <cstdint>

#include "fuzz_check.h"
#include "mm/user_elf.h"

using namespace mm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    UserImage image{};
    const Violation v = parse_user_elf(data, size, &image);
    if (!v.ok()) {
        FUZZ_CHECK(v.field != nullptr && v.rule != nullptr);
        return 0;
    }
    FUZZ_CHECK(image.segment_count > 0 && image.segment_count <= kMaxUserSegments);
    bool entry_in_text = false;
    for (size_t i = 0; i < image.segment_count; ++i) {
        const UserSegment& s = image.segments[i];
        FUZZ_CHECK(s.virtual_address % 4096 == 0 && s.memory_size > 0);
        FUZZ_CHECK(s.virtual_address >= kUserLowest.value());
        FUZZ_CHECK(s.memory_size <= kMaxUserSegmentBytes);
        FUZZ_CHECK(s.virtual_address + s.memory_size <= kUserImageLimit.value());  // no wrap: both bounded
        FUZZ_CHECK(s.file_size <= s.memory_size);
        FUZZ_CHECK(s.file_offset <= size && s.file_size <= size - s.file_offset);  // bytes really in the file
        if (s.rights == SegmentRights::kReadExecute) {
            FUZZ_CHECK(s.file_offset % 4096 == 0 && s.file_size == s.memory_size);
            if (image.entry >= s.virtual_address && image.entry - s.virtual_address < s.file_size) entry_in_text = true;
        }
        if (i > 0) {
            const UserSegment& p = image.segments[i - 1];
            FUZZ_CHECK((p.virtual_address + p.memory_size + 4095) / 4096 <= s.virtual_address / 4096);
        }
    }
    FUZZ_CHECK(entry_in_text);
    return 0;
}
