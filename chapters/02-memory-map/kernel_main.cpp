// Chapter 02: which memory is ours? Read the firmware's memory map.
//
// Before the kernel may allocate a single frame it must know what RAM exists
// and who owns it. The loader handed over the final UEFI memory map; this
// chapter validates it (and the handoff around it), prints it, and normalises
// it into the sorted range list every later chapter allocates from.
#include "boot/handoff.h"
#include "mm/boot_memory.h"
#include "fault_injection.h"
#include "kernel/kernel.h"
#include "mm/memory_map_log.h"
#include "kernel/panic.h"
#include "support/log.h"

namespace {

// The bootstrap tables identity-map all RAM, so a physical address is also a
// pointer until chapter 08 moves everything to the phys-offset window.
const uint8_t* identity_pointer(uint64_t physical) { return reinterpret_cast<const uint8_t*>(physical); }

mm::BootMemory g_memory;  // in .bss: the range list is too big for the stack

[[noreturn]] void reject(const Violation& violation) {
    mm::log_rejection("memmap", "handoff", violation);
    kernel::fail();
}

// ---- the chapter's sequence --------------------------------------------------

void log_loader_objects(const mm::BootMemory& memory) {
    for (const mm::LoaderObject& o : memory.loader_objects)
        klog::info("memmap").msg("loader object").kv("name", o.name).kv("start", klog::hex(o.start))
            .kv("size", klog::size(o.size)).kv("kind", mm::range_kind_name(o.expected_kind));
}

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& real_handoff) {
    const uint8_t* map = identity_pointer(real_handoff.memory_map);
    const boot::BootHandoff& handoff = corrupted_if_requested(real_handoff, &map, g_memory);  // fault_injection.cpp
    const mm::PhysAddr handoff_address(reinterpret_cast<uint64_t>(&real_handoff));

    if (Violation v = mm::load_boot_memory(handoff, handoff_address, map, &g_memory); !v.ok()) reject(v);
    klog::info("memmap").msg("handoff valid").kv("descriptors", uint64_t(g_memory.descriptors.count()))
        .kv("descriptor-size", handoff.descriptor_size);
    mm::log_descriptors(g_memory.descriptors);
    (void)mm::log_refused_descriptors(g_memory.descriptors);
    mm::log_ranges(g_memory.ranges);
    mm::log_totals(g_memory.ranges);
    log_loader_objects(g_memory);
}
// book:end kernel-main
