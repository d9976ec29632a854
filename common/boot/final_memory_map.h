// The last thing the loader does with the firmware: take the final memory map
// and exit boot services.
//
// The map must describe every page the loader used, so it is taken after the
// last allocation, and nothing is allocated after it. ExitBootServices refuses
// a map key that went stale (the firmware may change the map itself, e.g. from
// a timer event); then the map is fetched again into the same buffer and the
// exit retried (UEFI 2.10, 7.4 "ExitBootServices()").
#pragma once

#include <stdint.h>

#include "boot/uefi_memory.h"
#include "boot/efi.h"
#include "boot/exit_retry.h"

namespace boot {

// kBootHandoff pages: address, and capacity in bytes.
using MemoryMapBuffer = MapBuffer;

struct FinalMemoryMap {
    uint64_t address;
    uint64_t size;  // bytes of valid descriptors
    uint64_t capacity;
    uint32_t descriptor_size;
    uint32_t descriptor_version;
    unsigned attempts;  // ExitBootServices calls it took
};

// Calls `visit` with each descriptor of a map held in loader memory, stepping
// by the firmware's descriptor size (never sizeof: OVMF's are 48 bytes, not 40).
template <typename Visit>
void for_each_descriptor(uint64_t address, uint64_t size, uint64_t descriptor_size, Visit visit) {
    for (uint64_t offset = 0; offset + sizeof(EfiMemoryDescriptor) <= size; offset += descriptor_size)
        visit(*reinterpret_cast<const EfiMemoryDescriptor*>(address + offset));
}

// Allocates a map buffer with room for the current map plus slack for the
// descriptors that later allocations (including this one) add.
MemoryMapBuffer allocate_memory_map_buffer(EFI_HANDLE image);

// Where the bootstrap identity map ends for the current map and a framebuffer
// ending at `framebuffer_end` (identity_extent.h); fails the boot, naming the
// descriptor, when RAM lies where the identity map cannot reach.
uint64_t bootstrap_identity_top(EFI_HANDLE image, const MemoryMapBuffer& buffer, uint64_t framebuffer_end);

// Takes the final map into `buffer` (or a larger one, should the map outgrow
// it: the returned address and capacity say which) and exits boot services,
// retrying as exit_retry.h says. On return the firmware is gone: no boot
// service may be called any more. A failure is logged with reason= and stops
// the boot without touching boot services again.
FinalMemoryMap exit_boot_services(EFI_HANDLE image, const MemoryMapBuffer& buffer);

}  // namespace boot
