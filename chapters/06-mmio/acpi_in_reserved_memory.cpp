#include "acpi_in_reserved_memory.h"

#include <stdint.h>

#include "boot/uefi_memory.h"
#include "kernel/kernel.h"
#include "support/log.h"

void put_acpi_tables_in_reserved_memory_if_requested(const boot::BootHandoff& handoff) {
    if (!kernel::command_line().has("test.acpi-in-reserved")) return;
    // The map is the loader's buffer, in loader-owned memory the identity map
    // still reaches: changed in place, before start_boot_memory() reads it.
    uint8_t* map = reinterpret_cast<uint8_t*>(handoff.memory_map);
    uint64_t relabelled = 0;
    for (uint64_t at = 0; at + sizeof(boot::EfiMemoryDescriptor) <= handoff.memory_map_size;
         at += handoff.descriptor_size) {
        auto* d = reinterpret_cast<boot::EfiMemoryDescriptor*>(map + at);
        if (d->type != uint32_t(boot::EfiMemoryType::kAcpiReclaim)) continue;
        d->type = uint32_t(boot::EfiMemoryType::kReserved);
        ++relabelled;
    }
    klog::warn("acpi").msg("acpi-reclaim relabelled reserved on request").kv("descriptors", relabelled);
}
