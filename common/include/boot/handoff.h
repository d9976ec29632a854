// The one struct the loader hands to the kernel: versioned, fixed layout.
//
// Loader and kernel are compiled separately (one a PE application, the other an
// ELF at -2 GiB), so this header is their whole contract. Every field has a fixed
// size and offset, pinned by the static_asserts below; a change to the layout
// must bump kHandoffVersion. All addresses are physical: the kernel is entered
// with physical memory identity-mapped, and later chapters re-address the
// handoff through the kernel's own phys-offset window.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace boot {

inline constexpr uint64_t kHandoffMagic = 0x4646'4f44'4e41'484dull;  // "MHANDOFF" read little-endian
inline constexpr uint32_t kHandoffVersion = 3;  // 2: the boot-module table; 3: framebuffer masks
inline constexpr size_t kCommandLineCapacity = 256;  // bytes, including the terminating NUL
inline constexpr size_t kMaxBootModules = 16;
inline constexpr size_t kModuleNameCapacity = 32;  // bytes, including the terminating NUL

enum class PixelFormat : uint32_t {
    kRgbx = 0,  // PixelRedGreenBlueReserved8BitPerColor
    kBgrx = 1,  // PixelBlueGreenRedReserved8BitPerColor
    kBitMask = 2,
    kBltOnly = 3,  // no linear framebuffer
    kNone = 0xFFFFFFFF,  // the firmware offered no graphics output
};

// The name the logs print for a pixel format.
constexpr const char* pixel_format_name(PixelFormat format) {
    switch (format) {
        case PixelFormat::kRgbx: return "rgbx";
        case PixelFormat::kBgrx: return "bgrx";
        case PixelFormat::kBitMask: return "bitmask";
        case PixelFormat::kBltOnly: return "blt-only";
        case PixelFormat::kNone: return "none";
    }
    return "unknown";
}

// book:begin boot-module
// One file of \user\ as the loader read it: its bytes, unchanged, in
// kBootModules pages (uefi_memory.h). The kernel validates the ELF inside.
struct BootModule {
    char name[kModuleNameCapacity];  // the file name without the folder, NUL-terminated: "hello.elf"
    uint64_t physical_base;  // page-aligned
    uint64_t size;  // bytes of the file (the pages hold it rounded up to 4 KiB)
};
static_assert(sizeof(BootModule) == 48);
// book:end boot-module

// Which bits of a pixel are which colour, for PixelBitMask (UEFI 2.10,
// EFI_PIXEL_BITMASK); all zero for the other formats, whose layout is fixed.
struct PixelMasks {
    uint32_t red;
    uint32_t green;
    uint32_t blue;
    uint32_t reserved;
};
static_assert(sizeof(PixelMasks) == 16);

struct BootHandoff {
    uint64_t magic;  // kHandoffMagic
    uint32_t version;  // kHandoffVersion
    uint32_t size;  // sizeof(BootHandoff) as the loader built it

    // The final UEFI memory map, taken just before ExitBootServices.
    uint64_t memory_map;  // physical address of the first descriptor
    uint64_t memory_map_size;  // bytes of valid descriptors
    uint64_t memory_map_capacity;  // bytes of the buffer holding them
    uint32_t descriptor_size;  // stride between descriptors: never assume sizeof
    uint32_t descriptor_version;

    // GOP linear framebuffer (all zero and format kNone when there is none).
    uint64_t framebuffer_base;
    uint64_t framebuffer_size;
    uint32_t framebuffer_width;
    uint32_t framebuffer_height;
    uint32_t framebuffer_stride;  // pixels per scan line, >= width
    PixelFormat framebuffer_format;

    // ACPI root pointer (0 when the firmware published none).
    uint64_t rsdp;
    uint32_t rsdp_revision;  // 0 = ACPI 1.0 RSDP, 2 = ACPI 2.0+ (XSDT available)
    uint32_t reserved0;

    // Where the loader put the kernel: one physically contiguous block holding
    // every PT_LOAD segment at `kernel_physical_base + (vaddr - kernel_virtual_base)`.
    uint64_t kernel_physical_base;
    uint64_t kernel_size;  // bytes, a multiple of 4 KiB
    uint64_t kernel_virtual_base;  // lowest PT_LOAD address, page-aligned

    // The loader's bootstrap state, reserved in the map until the kernel no longer uses it.
    uint64_t bootstrap_pml4;  // the loader's PML4: what CR3 holds at the jump, or at five levels the table under its PML5
    uint64_t boot_stack_base;
    uint64_t boot_stack_size;

    uint64_t loader_image_base;  // runtime base of BOOTX64.EFI, for loading its symbols in GDB

    char command_line[kCommandLineCapacity];  // NUL-terminated contents of \cmdline.txt

    // The boot modules (version 2): \user\*.elf, zero when there is no \user folder.
    uint32_t module_count;  // at most kMaxBootModules
    uint32_t reserved1;
    BootModule modules[kMaxBootModules];

    PixelMasks framebuffer_masks;  // version 3: the GOP's masks when framebuffer_format is kBitMask
};

static_assert(offsetof(BootHandoff, magic) == 0);
static_assert(offsetof(BootHandoff, version) == 8);
static_assert(offsetof(BootHandoff, size) == 12);
static_assert(offsetof(BootHandoff, memory_map) == 16);
static_assert(offsetof(BootHandoff, descriptor_size) == 40);
static_assert(offsetof(BootHandoff, framebuffer_base) == 48);
static_assert(offsetof(BootHandoff, framebuffer_format) == 76);
static_assert(offsetof(BootHandoff, rsdp) == 80);
static_assert(offsetof(BootHandoff, kernel_physical_base) == 96);
static_assert(offsetof(BootHandoff, bootstrap_pml4) == 120);
static_assert(offsetof(BootHandoff, loader_image_base) == 144);
static_assert(offsetof(BootHandoff, command_line) == 152);
static_assert(offsetof(BootHandoff, module_count) == 408);
static_assert(offsetof(BootHandoff, modules) == 416);
static_assert(offsetof(BootHandoff, framebuffer_masks) == 1184);
static_assert(sizeof(BootHandoff) == 160 + kCommandLineCapacity + kMaxBootModules * sizeof(BootModule) + sizeof(PixelMasks));

// The kernel's entry point, called by the loader with the SysV ABI (first
// argument in RDI) on the boot stack, with interrupts off and the bootstrap
// tables in CR3.
using KernelEntry = void (*)(const BootHandoff* handoff);

}  // namespace boot
