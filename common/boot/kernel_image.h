// Placing the validated kernel ELF in physical memory.
#pragma once

#include "elf_image.h"
#include "efi.h"

namespace boot {

struct LoadedKernel {
    uint64_t physical_base;  // the image's first page, contiguous for `span` bytes
    elf::KernelImageLayout layout;
};

// Validates `file` (failing the boot with the violated rule) and copies every
// PT_LOAD segment into one block of kKernelImage pages, .bss zeroed.
LoadedKernel load_kernel_image(EFI_HANDLE image, const uint8_t* file, uint64_t file_size);

}  // namespace boot
