#include "mm/boot_memory.h"

namespace mm {

// book:begin set-aside-framebuffer
Violation set_aside_framebuffer(const boot::BootHandoff& handoff, MemoryRangeList* ranges) {
    // No framebuffer (a null base, as map_framebuffer reads it): nothing to set aside.
    if (handoff.framebuffer_base == 0 || handoff.framebuffer_size == 0) return accept();
    return ranges->set_aside(PhysAddr(handoff.framebuffer_base), handoff.framebuffer_size, RangeKind::kFramebuffer,
                             "framebuffer_base");
}
// book:end set-aside-framebuffer

// book:begin load-boot-memory
Violation load_boot_memory(const boot::BootHandoff& handoff, PhysAddr handoff_address, const uint8_t* map,
                           BootMemory* out) {
    if (Violation v = validate_handoff(handoff, map); !v.ok()) return v;
    out->descriptors = MemoryDescriptorView(map, handoff.memory_map_size, handoff.descriptor_size);
    if (Violation v = out->ranges.build(out->descriptors); !v.ok()) return v;
    if (Violation v = set_aside_framebuffer(handoff, &out->ranges); !v.ok()) return v;
    list_loader_objects(handoff, handoff_address, out->loader_objects);
    if (Violation v = check_loader_objects(out->loader_objects, out->ranges); !v.ok()) return v;
    return check_boot_modules(handoff, out->loader_objects, out->ranges);
}
// book:end load-boot-memory

}  // namespace mm
