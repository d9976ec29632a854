// The UEFI memory map as the kernel receives it (UEFI 2.10, 7.2.3 "GetMemoryMap()").
//
// The loader hands the firmware's map over unchanged, so the kernel must read it
// by the spec's layout: descriptors are `descriptor_size` bytes apart, and that
// size may be larger than sizeof(EfiMemoryDescriptor) in newer firmware.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace boot {

enum class EfiMemoryType : uint32_t {
    kReserved = 0,
    kLoaderCode = 1,
    kLoaderData = 2,
    kBootServicesCode = 3,
    kBootServicesData = 4,
    kRuntimeServicesCode = 5,
    kRuntimeServicesData = 6,
    kConventional = 7,
    kUnusable = 8,
    kAcpiReclaim = 9,
    kAcpiNvs = 10,
    kMmio = 11,
    kMmioPortSpace = 12,
    kPalCode = 13,
    kPersistent = 14,
    kUnaccepted = 15,
    // book:begin loader-memory-types
    // Types 0x80000000 and above belong to the OS loader (UEFI 2.10, 7.2.1 AllocatePages).
    // Ours mark everything the loader hands to the kernel, so the kernel can tell
    // it apart from free RAM without trusting anything but the map.
    kKernelImage = 0x80000001,     // the kernel's PT_LOAD segments
    kBootHandoff = 0x80000002,     // the handoff struct and the memory-map buffer
    kBootPageTables = 0x80000003,  // the loader's bootstrap page tables
    kBootStack = 0x80000004,       // the stack the kernel is entered on
    kBootModules = 0x80000006,     // the user programs read from \user\*.elf (chapter 12 on)
    // book:end loader-memory-types
};

// The descriptor layout of UEFI 2.x, version 1 (EFI_MEMORY_DESCRIPTOR_VERSION).
struct EfiMemoryDescriptor {
    uint32_t type;
    uint32_t padding;
    uint64_t physical_start;
    uint64_t virtual_start;
    uint64_t number_of_pages;  // always 4 KiB pages, whatever the CPU's page size
    uint64_t attribute;
};
static_assert(sizeof(EfiMemoryDescriptor) == 40);
static_assert(offsetof(EfiMemoryDescriptor, physical_start) == 8);
static_assert(offsetof(EfiMemoryDescriptor, number_of_pages) == 24);

inline constexpr uint32_t kEfiMemoryDescriptorVersion = 1;

// Cacheability and protection attributes of a descriptor (EFI_MEMORY_*).
inline constexpr uint64_t kEfiMemoryUc = 0x1;
inline constexpr uint64_t kEfiMemoryWc = 0x2;
inline constexpr uint64_t kEfiMemoryWt = 0x4;
inline constexpr uint64_t kEfiMemoryWb = 0x8;
inline constexpr uint64_t kEfiMemoryRuntime = 0x8000000000000000ull;

// Short, stable names for the log ("conventional", "acpi-reclaim", "kernel-image", ...).
constexpr const char* memory_type_name(uint32_t type) {
    switch (EfiMemoryType(type)) {
        case EfiMemoryType::kReserved: return "reserved";
        case EfiMemoryType::kLoaderCode: return "loader-code";
        case EfiMemoryType::kLoaderData: return "loader-data";
        case EfiMemoryType::kBootServicesCode: return "boot-code";
        case EfiMemoryType::kBootServicesData: return "boot-data";
        case EfiMemoryType::kRuntimeServicesCode: return "runtime-code";
        case EfiMemoryType::kRuntimeServicesData: return "runtime-data";
        case EfiMemoryType::kConventional: return "conventional";
        case EfiMemoryType::kUnusable: return "unusable";
        case EfiMemoryType::kAcpiReclaim: return "acpi-reclaim";
        case EfiMemoryType::kAcpiNvs: return "acpi-nvs";
        case EfiMemoryType::kMmio: return "mmio";
        case EfiMemoryType::kMmioPortSpace: return "mmio-port";
        case EfiMemoryType::kPalCode: return "pal-code";
        case EfiMemoryType::kPersistent: return "persistent";
        case EfiMemoryType::kUnaccepted: return "unaccepted";
        case EfiMemoryType::kKernelImage: return "kernel-image";
        case EfiMemoryType::kBootHandoff: return "boot-handoff";
        case EfiMemoryType::kBootPageTables: return "boot-page-tables";
        case EfiMemoryType::kBootStack: return "boot-stack";
        case EfiMemoryType::kBootModules: return "boot-modules";
    }
    return type >= 0x80000000u ? "os-defined" : (type >= 0x70000000u ? "oem-defined" : "invalid");
}

}  // namespace boot
