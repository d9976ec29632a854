// The kernel image as the linker laid it out (common/kernel/kernel.ld).
#pragma once

#include <stdint.h>

// Linker-script symbols: only their addresses mean anything.
extern "C" {
extern const char __kernel_start[], __kernel_end[];
extern const char __text_start[], __text_end[];
extern const char __rodata_start[], __rodata_end[];
extern const char __data_start[], __data_end[];
extern const char __boot_stack_guard[], __boot_stack_bottom[], __boot_stack_top[];
}

namespace kernel {

inline constexpr uint64_t kKernelVirtualBase = 0xFFFF'FFFF'8000'0000ull;

struct ImageSection {
    const char* name;
    uint64_t start;  // page-aligned virtual address
    uint64_t end;  // exclusive, page-aligned
};

// text, rodata, data (data includes .bss and the boot stack with its guard page).
inline ImageSection image_sections(unsigned index) {
    const ImageSection sections[] = {
        {"text", uint64_t(__text_start), uint64_t(__text_end)},
        {"rodata", uint64_t(__rodata_start), uint64_t(__rodata_end)},
        {"data", uint64_t(__data_start), uint64_t(__data_end)},
    };
    return sections[index];
}
inline constexpr unsigned kImageSectionCount = 3;

}  // namespace kernel
