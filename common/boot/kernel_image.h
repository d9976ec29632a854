// Placing the validated kernel ELF in physical memory.
#pragma once

#include "boot/elf_image.h"
#include "boot/efi.h"

namespace boot {

// Larger files are not even read: the image itself may span at most 64 MiB.
inline constexpr uint64_t kMaxKernelFileSize = 64ull * 1024 * 1024;

struct LoadedKernel {
    uint64_t physical_base;  // the image's first page, contiguous for `span` bytes
    elf::KernelImageLayout layout;
};

// Validates `file`, read from `path` (failing the boot with the violated
// rule), and copies every PT_LOAD segment into one block of kKernelImage
// pages, .bss zeroed.
LoadedKernel load_kernel_image(EFI_HANDLE image, const char* path, const uint8_t* file, uint64_t file_size);

// The one line a rejected kernel file gets:
//   [ERROR loader] kernel.elf rejected path=\kernel.elf field=e_machine value=0x3 rule="must be EM_X86_64 (0x3e)"
void log_kernel_rejection(const char* path, const elf::Violation& violation);

}  // namespace boot
