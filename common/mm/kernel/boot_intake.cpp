#include "mm/kernel/boot_intake.h"

#include "mm/memory_map_log.h"
#include "kernel/panic.h"

namespace mm {
namespace {

BootIntake g_intake;

}  // namespace

BootIntake& start_boot_memory(const boot::BootHandoff& handoff) {
    BootMemory& memory = g_intake.memory;
    // The loader enters the kernel on tables that identity-map all RAM: the
    // handoff's address is its physical address, and so is the map's.
    const PhysAddr handoff_address(reinterpret_cast<uint64_t>(&handoff));
    const uint8_t* map = reinterpret_cast<const uint8_t*>(handoff.memory_map);
    if (Violation v = load_boot_memory(handoff, handoff_address, map, &memory); !v.ok()) {
        log_rejection("memmap", "handoff", v);
        kernel::fail();
    }
    g_intake.handoff = handoff_view(handoff, handoff_address);
    (void)log_refused_descriptors(memory.descriptors);
    log_ranges(memory.ranges);
    g_intake.frames.init(memory.ranges);
    return g_intake;
}

}  // namespace mm
