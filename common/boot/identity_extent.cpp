#include "boot/identity_extent.h"

#include "mm/memory_descriptor_view.h"
#include "mm/memory_ranges.h"

namespace boot {

Violation identity_top(const uint8_t* map, uint64_t map_size, uint64_t descriptor_size, uint64_t framebuffer_end,
                       uint64_t* top) {
    uint64_t end_of_ram = 0;
    uint64_t index = 0;
    for (uint64_t offset = 0; offset + sizeof(EfiMemoryDescriptor) <= map_size; offset += descriptor_size, ++index) {
        const mm::MemoryDescriptor d(map + offset);
        if (!mm::is_ram_class(mm::range_class(mm::range_kind_of(d)))) continue;  // devices, reserved: not mapped for them
        mm::PhysAddr end;
        if (!d.end(&end)) return reject("descriptor.end", d.physical_start().value(), "RAM must not end past 2^64", index);
        if (end.value() > kMaxIdentityTop)
            return reject("descriptor.end", end.value(), "RAM must end at or below 64TiB, the most the identity map covers",
                          index);
        if (end.value() > end_of_ram) end_of_ram = end.value();
    }
    if (framebuffer_end > kMaxIdentityTop)
        return reject("framebuffer.end", framebuffer_end, "the framebuffer must end at or below 64TiB");

    uint64_t extent = kMinIdentityTop;
    if (end_of_ram > extent) extent = end_of_ram;
    if (framebuffer_end > extent) extent = framebuffer_end;
    align_up(extent, GiB, top);  // at most 64 TiB: cannot overflow
    return accept();
}

}  // namespace boot
