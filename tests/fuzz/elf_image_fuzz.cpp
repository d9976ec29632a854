// Fuzz target: the loader's ELF validator. Any byte string may be handed to
// it; an accepted one must describe an image the loader can place safely.
#include <cstdint>

#include "boot/elf_image.h"
#include "fuzz_check.h"

using namespace boot::elf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    KernelImageLayout layout{};
    const Violation v = parse_kernel_elf(data, size, &layout);
    if (!v.ok()) {
        FUZZ_CHECK(v.field != nullptr && v.rule != nullptr);
        return 0;
    }
    FUZZ_CHECK(layout.segment_count > 0 && layout.segment_count <= kMaxLoadSegments);
    FUZZ_CHECK(layout.virtual_base >= kHigherHalfBase && layout.virtual_base % 4096 == 0);
    FUZZ_CHECK(layout.span > 0 && layout.span <= kMaxImageSpan && layout.span % 4096 == 0);
    bool entry_is_code = false;
    for (size_t i = 0; i < layout.segment_count; ++i) {
        const LoadSegment& s = layout.segments[i];
        FUZZ_CHECK(s.file_size <= s.memory_size);
        FUZZ_CHECK(s.file_offset <= size && s.file_size <= size - s.file_offset);  // bytes really in the file
        FUZZ_CHECK(!((s.flags & kSegmentWritable) && (s.flags & kSegmentExecutable)));  // W^X
        FUZZ_CHECK(s.virtual_address >= layout.virtual_base);
        FUZZ_CHECK(s.virtual_address + s.memory_size <= layout.virtual_base + layout.span);  // inside the span
        if (i > 0) {
            const LoadSegment& p = layout.segments[i - 1];
            // Sorted, and no page shared: each page has one set of permissions.
            FUZZ_CHECK((p.virtual_address + p.memory_size + 4095) / 4096 <= s.virtual_address / 4096);
        }
        if ((s.flags & kSegmentExecutable) && layout.entry >= s.virtual_address &&
            layout.entry < s.virtual_address + s.memory_size)
            entry_is_code = true;
    }
    FUZZ_CHECK(entry_is_code);
    return 0;
}
