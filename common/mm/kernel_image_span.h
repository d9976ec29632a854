// The kernel image as map_kernel_image maps it: which virtual ranges get
// which frames and rights, and which pages stay unmapped as guards.
//
// The loader put every PT_LOAD segment into one physically contiguous block
// (common/boot/kernel_image.cpp), so for any address of the image
//
//     pa = physical_base + (va - virtual_base)
//
// where virtual_base is the *lowest PT_LOAD address*, not the link base.
// This is the guard math, drawn:
//
//   0xFFFFFFFF80000000  link base      guard page: never mapped. The loader
//                                      allocated no frame for it, so it has no
//                                      pa at all (pa = physical_base - 4 KiB
//                                      would be somebody else's frame).
//   virtual_base = link base + 4 KiB   text             RX      span "text"
//   rodata_start                       rodata (+init)   R  NX   span "rodata"
//   data_start                         .data, .bss      RW NX   span "data" = [data_start, stack_guard)
//   stack_guard                        boot-stack guard: never mapped; its frame
//                                      exists (inside the block) but no VA maps it
//   stack_guard + 4 KiB = stack_bottom boot stack       RW NX   span "stack" = [stack_bottom, image_end)
//   image_end = virtual_base + size    guard page: never mapped (nothing else
//                                      lives in the image's 2 MiB neighbourhood)
//
// Each guard is subtracted exactly once: virtual_base already excludes the
// guard below, so no "- 4 KiB" appears in the pa arithmetic.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/mapping_policy.h"
#include "mm/phys_addr.h"
#include "support/assert.h"
#include "support/violation.h"
#include "mm/virt_addr.h"

namespace mm {

// Where the loader put the image (BootHandoff::kernel_*).
struct KernelPlacement {
    VirtAddr virtual_base;  // lowest PT_LOAD address: link base + 4 KiB
    PhysAddr physical_base;
    uint64_t size;  // bytes from virtual_base, a multiple of 4 KiB
};

// The image as the linker laid it out (common/mm/kernel/linked_image.h reads the
// linker-script symbols into this). Every address is page-aligned.
struct KernelImageLayout {
    VirtAddr text_start, text_end;
    VirtAddr rodata_start, rodata_end;
    VirtAddr data_start;    // .data, then .bss, then the boot stack
    VirtAddr stack_guard;   // the page below the boot stack
    VirtAddr stack_bottom;  // stack_guard + 4 KiB
    VirtAddr image_end;     // end of the boot stack = end of the image
};

// One mapping of the image: (va_start, pa_start, length).
struct ImageSpan {
    VirtAddr va_start;
    PhysAddr pa_start;
    uint64_t length;
};

// book:begin kernel-image-span
// The span for [start, end) of the image. Asserts the range lies inside the
// placed block, so no span can reach the guard below the image or past its end.
constexpr ImageSpan kernel_image_span(const KernelPlacement& placement, VirtAddr start, VirtAddr end) {
    KASSERT(placement.virtual_base <= start && start <= end);
    KASSERT(end - placement.virtual_base <= placement.size);
    return {start, placement.physical_base + (start - placement.virtual_base), end - start};
}
// book:end kernel-image-span

// A section of the image to map, with its rights.
struct KernelImageSection {
    const char* name;  // "text", "rodata", "data", "stack"
    ImageSpan span;
    MappingPolicy policy;  // before fit_to_cpu()
};
inline constexpr size_t kKernelImageSectionCount = 4;

struct KernelImageSections {
    KernelImageSection sections[kKernelImageSectionCount];
};

// The pages map_kernel_image leaves unmapped on purpose.
struct KernelImageGuards {
    VirtAddr below_image;  // the link base: catches underflows of the image
    VirtAddr boot_stack;   // catches a boot-stack overflow before it reaches .bss
    VirtAddr above_image;  // catches overflows off the end of the image
};

// Everything map_kernel_image relies on about the layout and the placement:
// the loader placed what the linker laid out, every boundary is page-aligned
// and in order, and the stack guard is exactly one page. The first broken
// rule is returned (a loader bug, or a kernel.elf from another linker script).
constexpr Violation check_kernel_placement(const KernelImageLayout& l, const KernelPlacement& p) {
    const VirtAddr bounds[] = {l.text_start, l.text_end, l.rodata_start, l.rodata_end,
                               l.data_start, l.stack_guard, l.stack_bottom, l.image_end};
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); ++i) {
        if (!bounds[i].is_aligned(kPageSize)) return reject("image.boundary", bounds[i].value(), "must be 4KiB-aligned", i);
        if (i > 0 && bounds[i] < bounds[i - 1]) return reject("image.boundary", bounds[i].value(), "must not lie below the one before", i);
    }
    if (l.stack_bottom - l.stack_guard != kPageSize)
        return reject("image.stack_bottom", l.stack_bottom.value(), "must be stack_guard + 4KiB");
    if (l.stack_guard == l.data_start || l.text_start == l.text_end)
        return reject("image.layout", l.stack_guard.value(), "text and data must not be empty");
    if (p.virtual_base != l.text_start)
        return reject("kernel_virtual_base", p.virtual_base.value(), "must equal the linked text start (link base + 4KiB)");
    if (p.size != l.image_end - l.text_start)
        return reject("kernel_size", p.size, "must equal the linked image size");
    if (!p.physical_base.is_aligned(kPageSize))
        return reject("kernel_physical_base", p.physical_base.value(), "must be 4KiB-aligned");
    return accept();
}

// The four spans to map and their policies; see the drawing at the top.
// Only valid when check_kernel_placement() accepted the pair.
constexpr KernelImageSections kernel_image_sections(const KernelImageLayout& l, const KernelPlacement& p) {
    return {{
        {"text", kernel_image_span(p, l.text_start, l.text_end), kKernelTextPolicy},
        {"rodata", kernel_image_span(p, l.rodata_start, l.rodata_end), kKernelRodataPolicy},
        {"data", kernel_image_span(p, l.data_start, l.stack_guard), kKernelDataPolicy},
        {"stack", kernel_image_span(p, l.stack_bottom, l.image_end), kKernelDataPolicy},
    }};
}

constexpr KernelImageGuards kernel_image_guards(const KernelImageLayout& l) {
    return {VirtAddr(l.text_start.value() - kPageSize), l.stack_guard, l.image_end};
}

// An example, checked by the compiler: a 3-page text, 1 page each of rodata
// and data, the guard, 2 stack pages; loaded at 16 MiB.
namespace kernel_image_example {
inline constexpr uint64_t kBase = 0xFFFF'FFFF'8000'0000ull;
inline constexpr KernelImageLayout kLayout = {
    VirtAddr(kBase + 0x1000), VirtAddr(kBase + 0x4000), VirtAddr(kBase + 0x4000), VirtAddr(kBase + 0x5000),
    VirtAddr(kBase + 0x5000), VirtAddr(kBase + 0x6000), VirtAddr(kBase + 0x7000), VirtAddr(kBase + 0x9000)};
inline constexpr KernelPlacement kPlacement = {VirtAddr(kBase + 0x1000), PhysAddr(0x100'0000), 0x8000};
static_assert(check_kernel_placement(kLayout, kPlacement).ok());
static_assert(kernel_image_sections(kLayout, kPlacement).sections[0].span.pa_start == PhysAddr(0x100'0000));
// The stack span starts one page past the guard, in both address spaces.
static_assert(kernel_image_sections(kLayout, kPlacement).sections[3].span.va_start == VirtAddr(kBase + 0x7000));
static_assert(kernel_image_sections(kLayout, kPlacement).sections[3].span.pa_start == PhysAddr(0x100'6000));
static_assert(kernel_image_sections(kLayout, kPlacement).sections[2].span.length == 0x1000);
static_assert(kernel_image_guards(kLayout).below_image == VirtAddr(kBase));
static_assert(!check_kernel_placement(kLayout, {VirtAddr(kBase), PhysAddr(0x100'0000), 0x9000}).ok());
}  // namespace kernel_image_example

}  // namespace mm
