#include "boot/kernel_image.h"

#include "boot/firmware_memory.h"
#include "boot/loader_log.h"
#include "support/units.h"

namespace boot {
namespace {

// "R", "RW", "RX" or "RWX", as readelf writes PF_R/PF_W/PF_X.
const char* segment_permissions(uint32_t flags) {
    const bool write = flags & elf::kSegmentWritable, execute = flags & elf::kSegmentExecutable;
    if (write && execute) return "RWX";
    if (write) return "RW";
    return execute ? "RX" : "R";
}

}  // namespace

void log_kernel_rejection(const char* path, const elf::Violation& violation) {
    klog::error("loader")
        .msg("kernel.elf rejected")
        .kv("path", path)
        .kv("field", violation.field)
        .kv("value", klog::hex(violation.value))
        .kv("rule", violation.rule);
}

LoadedKernel load_kernel_image(EFI_HANDLE image, const char* path, const uint8_t* file, uint64_t file_size) {
    LoadedKernel kernel{};
    const elf::Violation violation = elf::parse_kernel_elf(file, file_size, &kernel.layout);
    if (!violation.ok()) {
        log_kernel_rejection(path, violation);
        loader_fail(image, EFI_LOAD_ERROR);
    }
    const elf::KernelImageLayout& layout = kernel.layout;

    // One contiguous block keeps the kernel's virtual-to-physical rule a single
    // subtraction: pa = physical_base + (va - virtual_base).
    kernel.physical_base =
        allocate_loader_pages(image, EfiMemoryType::kKernelImage, layout.span / kPageSize, "kernel image");
    for (size_t i = 0; i < layout.segment_count; ++i) {
        const elf::LoadSegment& s = layout.segments[i];
        auto* destination = reinterpret_cast<uint8_t*>(kernel.physical_base + (s.virtual_address - layout.virtual_base));
        CopyMem(destination, file + s.file_offset, s.file_size);
        // The pages arrive zeroed, so memory_size - file_size (.bss) is zero already.
        klog::info("loader")
            .msg("segment")
            .kv("va", klog::hex(s.virtual_address))
            .kv("pa", klog::hex(kernel.physical_base + (s.virtual_address - layout.virtual_base)))
            .kv("filesz", s.file_size)
            .kv("memsz", s.memory_size)
            .kv("flags", segment_permissions(s.flags));
    }
    klog::info("loader")
        .msg("kernel loaded")
        .kv("entry", klog::hex(layout.entry))
        .kv("va", klog::hex(layout.virtual_base))
        .kv("pa", klog::hex(kernel.physical_base))
        .kv("size", klog::size(layout.span))
        .kv("segments", uint64_t(layout.segment_count));
    return kernel;
}

}  // namespace boot
