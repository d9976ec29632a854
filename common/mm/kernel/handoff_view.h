// HandoffView: what the kernel uses from the loader's handoff, typed once.
//
// Made at intake (start_boot_memory, boot_intake.h) after the handoff passed
// chapter 02's validation, and owned by the BootIntake: phases read it through
// the address space (KernelAddressSpace::handoff()), so no call site types a
// raw field itself. Every address in it is physical and stays true when
// chapter 08 moves the handoff into the phys-offset window; the raw
// boot::BootHandoff pointer has one holder, the runtime's (kernel/kernel.h).
#pragma once

#include <stdint.h>

#include "boot/handoff.h"
#include "kernel/text_screen.h"
#include "mm/phys_addr.h"
#include "mm/kernel_image_span.h"
#include "support/units.h"

namespace mm {

// The GOP framebuffer (a null base when the firmware offered none).
struct HandoffFramebuffer {
    PhysAddr base;  // the first pixel
    uint64_t size;  // bytes
    uint32_t width;  // visible pixels per scan line
    uint32_t height;  // scan lines
    uint32_t stride;  // pixels from one scan line to the next
    boot::PixelFormat format;
    boot::PixelMasks masks;  // for kBitMask

    // The same, in the terms the runtime's drawing checks take (text_screen.h).
    kernel::FramebufferGeometry geometry() const { return {base.value(), size, width, height, stride, format, masks}; }
};

struct HandoffView {
    PhysAddr address;  // the handoff itself
    PhysAddr memory_map;  // the first descriptor
    uint64_t memory_map_size;  // bytes of valid descriptors
    uint32_t descriptor_size;  // stride between descriptors
    HandoffFramebuffer framebuffer;
    PhysAddr rsdp;  // null when the firmware published none
    KernelPlacement kernel;  // where the loader put the image
    // The boot modules' block (chapter 12): from the lowest module's first
    // page to the end of the highest one's last page; size 0 when there are
    // none. validate_handoff has checked it is one range of boot-modules memory.
    PhysAddr modules_start;
    uint64_t modules_size;
};

// The span of the modules' pages, or {0, 0} without modules.
inline void boot_modules_span(const boot::BootHandoff& handoff, PhysAddr* start, uint64_t* size) {
    uint64_t low = ~uint64_t(0), high = 0;
    for (uint32_t i = 0; i < handoff.module_count && i < boot::kMaxBootModules; ++i) {
        const boot::BootModule& m = handoff.modules[i];
        if (m.physical_base < low) low = m.physical_base;
        if (m.physical_base + pages_for(m.size) * kPageSize > high) high = m.physical_base + pages_for(m.size) * kPageSize;
    }
    *start = PhysAddr(high == 0 ? 0 : low);
    *size = high == 0 ? 0 : high - low;
}

// The view of `handoff`, found at physical address `address`. Only for a
// handoff that validate_handoff() accepted.
inline HandoffView handoff_view(const boot::BootHandoff& handoff, PhysAddr address) {
    PhysAddr modules_start;
    uint64_t modules_size = 0;
    boot_modules_span(handoff, &modules_start, &modules_size);
    return {address,
            PhysAddr(handoff.memory_map),
            handoff.memory_map_size,
            handoff.descriptor_size,
            {PhysAddr(handoff.framebuffer_base), handoff.framebuffer_size, handoff.framebuffer_width,
             handoff.framebuffer_height, handoff.framebuffer_stride, handoff.framebuffer_format, handoff.framebuffer_masks},
            PhysAddr(handoff.rsdp),
            {VirtAddr(handoff.kernel_virtual_base), PhysAddr(handoff.kernel_physical_base), handoff.kernel_size},
            modules_start,
            modules_size};
}

}  // namespace mm
