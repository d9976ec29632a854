#include "mm/handoff_validation.h"

#include "mm/memory_descriptor_view.h"

namespace mm {
namespace {

using boot::BootHandoff;
using boot::EfiMemoryDescriptor;

Violation check_header(const BootHandoff& h) {
    if (h.magic != boot::kHandoffMagic) return reject("magic", h.magic, "must be kHandoffMagic (\"MHANDOFF\")");
    if (h.version != boot::kHandoffVersion) return reject("version", h.version, "must equal the kernel's kHandoffVersion");
    if (h.size != sizeof(BootHandoff)) return reject("size", h.size, "must equal sizeof(BootHandoff)");
    return accept();
}

// book:begin map-geometry
// lab:begin map-geometry
// The map's shape: where it is, how big, and how far apart descriptors are.
Violation check_map_geometry(const BootHandoff& h) {
    if (h.memory_map == 0) return reject("memory_map", h.memory_map, "must not be null");
    if (h.descriptor_size < sizeof(EfiMemoryDescriptor))
        return reject("descriptor_size", h.descriptor_size, "must be at least 40 (sizeof EFI_MEMORY_DESCRIPTOR)");
    if (h.descriptor_size % 8 != 0) return reject("descriptor_size", h.descriptor_size, "must be a multiple of 8");
    if (h.descriptor_version != boot::kEfiMemoryDescriptorVersion)
        return reject("descriptor_version", h.descriptor_version, "must be 1 (EFI_MEMORY_DESCRIPTOR_VERSION)");
    if (h.memory_map_size == 0) return reject("memory_map_size", 0, "must hold at least one descriptor");
    if (h.memory_map_size % h.descriptor_size != 0)
        return reject("memory_map_size", h.memory_map_size, "must be a multiple of descriptor_size");
    if (h.memory_map_size > h.memory_map_capacity)
        return reject("memory_map_size", h.memory_map_size, "must not exceed memory_map_capacity");
    if (h.memory_map_size / h.descriptor_size > kMaxMemoryDescriptors)
        return reject("memory_map_size", h.memory_map_size, "must hold at most kMaxMemoryDescriptors (2048) descriptors");
    uint64_t map_end = 0;
    if (__builtin_add_overflow(h.memory_map, h.memory_map_capacity, &map_end) || map_end > PhysAddr::kLimit)
        return reject("memory_map", h.memory_map, "buffer must end below 2^52 (the physical address limit)");
    return accept();
}
// lab:end map-geometry
// book:end map-geometry

// One descriptor on its own: a page-aligned, non-empty range that ends inside
// the physical address space.
Violation check_descriptor(const MemoryDescriptor& d, uint64_t index) {
    if (!d.physical_start().is_aligned(kPageSize))
        return reject("descriptor.physical_start", d.physical_start().value(), "must be 4 KiB aligned", index);
    if (d.pages() == 0) return reject("descriptor.number_of_pages", 0, "must not be zero", index);
    PhysAddr end;
    if (!d.end(&end) || end > PhysAddr(PhysAddr::kLimit))
        return reject("descriptor.number_of_pages", d.pages(), "start + pages * 4 KiB must end below 2^52", index);
    return accept();
}

// book:begin no-overlap
// lab:begin no-overlap
// No two descriptors may claim the same page. Pairwise, because the map is
// unsorted and the kernel has no allocator yet; kMaxMemoryDescriptors bounds
// the cost (OVMF's ~130 descriptors take ~8000 comparisons).
Violation check_no_overlap(const MemoryDescriptorView& view) {
    for (size_t i = 0; i < view.count(); ++i) {
        const MemoryDescriptor a = view.at(i);
        PhysAddr a_end;
        (void)a.end(&a_end);  // check_descriptor proved it fits
        for (size_t j = i + 1; j < view.count(); ++j) {
            const MemoryDescriptor b = view.at(j);
            PhysAddr b_end;
            (void)b.end(&b_end);
            if (a.physical_start() < b_end && b.physical_start() < a_end)
                return reject("descriptor.physical_start", b.physical_start().value(),
                              "must not overlap an earlier descriptor", j);
        }
    }
    return accept();
}
// lab:end no-overlap
// book:end no-overlap

}  // namespace

Violation validate_handoff(const BootHandoff& handoff, const uint8_t* map) {
    if (Violation v = check_header(handoff); !v.ok()) return v;
    if (Violation v = check_map_geometry(handoff); !v.ok()) return v;
    const MemoryDescriptorView view(map, handoff.memory_map_size, handoff.descriptor_size);
    for (size_t i = 0; i < view.count(); ++i)
        if (Violation v = check_descriptor(view.at(i), i); !v.ok()) return v;
    return check_no_overlap(view);
}

void list_loader_objects(const BootHandoff& h, PhysAddr handoff_address, LoaderObject (&objects)[kLoaderObjectCount]) {
    objects[0] = {"kernel-image", PhysAddr(h.kernel_physical_base), h.kernel_size, RangeKind::kKernelImage};
    objects[1] = {"handoff", handoff_address, sizeof(BootHandoff), RangeKind::kBootHandoff};
    objects[2] = {"memory-map", PhysAddr(h.memory_map), h.memory_map_capacity, RangeKind::kBootHandoff};
    objects[3] = {"bootstrap-pml4", PhysAddr(h.bootstrap_pml4), kPageSize, RangeKind::kBootPageTables};
    objects[4] = {"boot-stack", PhysAddr(h.boot_stack_base), h.boot_stack_size, RangeKind::kBootStack};
}

Violation check_loader_objects(const LoaderObject (&objects)[kLoaderObjectCount], const MemoryRangeList& ranges) {
    for (size_t i = 0; i < kLoaderObjectCount; ++i) {
        const LoaderObject& o = objects[i];
        if (o.size == 0) return reject(o.name, 0, "size must not be zero", i);
        uint64_t last = 0;
        if (__builtin_add_overflow(o.start.value(), o.size - 1, &last))
            return reject(o.name, o.start.value(), "must not wrap around the address space", i);
        // Ranges of one kind are merged, so "wholly inside one range" is exact.
        const MemoryRange* range = ranges.find(o.start);
        if (range == nullptr || range->kind != o.expected_kind || !range->contains(PhysAddr(last)))
            return reject(o.name, o.start.value(), "must lie wholly in memory of its loader-owned type", i);
    }
    return accept();
}

// book:begin check-boot-modules
Violation check_boot_modules(const BootHandoff& h, const LoaderObject (&objects)[kLoaderObjectCount],
                             const MemoryRangeList& ranges) {
    if (h.module_count > boot::kMaxBootModules)
        return reject("module_count", h.module_count, "must be at most kMaxBootModules (16)");
    for (uint32_t i = 0; i < h.module_count; ++i) {
        const boot::BootModule& m = h.modules[i];
        size_t length = 0;
        while (length < boot::kModuleNameCapacity && m.name[length] != '\0') ++length;
        if (length == 0) return reject("modules.name", 0, "must not be empty", i);
        if (length == boot::kModuleNameCapacity)
            return reject("modules.name", length, "must be NUL-terminated within 32 bytes", i);
        if (m.size == 0) return reject("modules.size", 0, "must not be zero", i);
        if (!PhysAddr(m.physical_base).is_aligned(kPageSize) || m.physical_base == 0)
            return reject("modules.physical_base", m.physical_base, "must be a non-null, 4 KiB aligned address", i);
        uint64_t end = 0;
        if (__builtin_add_overflow(m.physical_base, m.size, &end) || end > PhysAddr::kLimit)
            return reject("modules.size", m.size, "module must end below 2^52", i);
        const MemoryRange* range = ranges.find(PhysAddr(m.physical_base));
        if (range == nullptr || range->kind != RangeKind::kBootModules || !range->contains(PhysAddr(end - 1)))
            return reject("modules.physical_base", m.physical_base, "must lie wholly in boot-modules memory", i);
        for (size_t o = 0; o < kLoaderObjectCount; ++o)
            if (m.physical_base < objects[o].start.value() + objects[o].size && objects[o].start.value() < end)
                return reject("modules.physical_base", m.physical_base,
                              "must not overlap the kernel image or another handoff object", i);
        // One block: the kernel keeps the modules read-only in its window as
        // one frame exception (kernel/ram_frame_exceptions.h).
        if (i > 0 && ranges.find(PhysAddr(h.modules[0].physical_base)) != range)
            return reject("modules.physical_base", m.physical_base, "must lie in the same boot-modules range as module 0", i);
        for (uint32_t j = 0; j < i; ++j)
            if (m.physical_base < h.modules[j].physical_base + h.modules[j].size && h.modules[j].physical_base < end)
                return reject("modules.physical_base", m.physical_base, "must not overlap an earlier module", i);
    }
    return accept();
}
// book:end check-boot-modules

}  // namespace mm
