// FakeMemoryMap: a UEFI memory map built in a test, with the firmware's
// descriptor stride (48 bytes like OVMF unless told otherwise), and a handoff
// that points at it. Shared by the memory-map and frame-allocator tests.
#pragma once

#include <cstring>
#include <vector>

#include "boot/handoff.h"
#include "boot/uefi_memory.h"
#include "mm/memory_descriptor_view.h"

struct FakeMemoryMap {
    explicit FakeMemoryMap(uint32_t stride = 48) : stride(stride) {}

    FakeMemoryMap& add(boot::EfiMemoryType type, uint64_t start, uint64_t pages, uint64_t attributes = boot::kEfiMemoryWb) {
        boot::EfiMemoryDescriptor d{};
        d.type = uint32_t(type);
        d.physical_start = start;
        d.number_of_pages = pages;
        d.attribute = attributes;
        const size_t at = bytes.size();
        bytes.resize(at + stride, 0xAB);  // the bytes past the struct are the firmware's business
        std::memcpy(bytes.data() + at, &d, sizeof(d));
        return *this;
    }

    mm::MemoryDescriptorView view() const { return mm::MemoryDescriptorView(bytes.data(), bytes.size(), stride); }

    // A handoff that describes this map; the "physical" address is the host pointer.
    boot::BootHandoff handoff() const {
        boot::BootHandoff h{};
        h.magic = boot::kHandoffMagic;
        h.version = boot::kHandoffVersion;
        h.size = sizeof(boot::BootHandoff);
        h.memory_map = reinterpret_cast<uint64_t>(bytes.data());
        h.memory_map_size = bytes.size();
        h.memory_map_capacity = bytes.size();
        h.descriptor_size = stride;
        h.descriptor_version = boot::kEfiMemoryDescriptorVersion;
        return h;
    }

    uint32_t stride;
    std::vector<uint8_t> bytes;
};

// A machine whose firmware put the GOP framebuffer in RAM it calls usable, as
// integrated GPUs can: 3 MiB from 0x7FF800 (not page-aligned), across the edge
// between a conventional descriptor [1 MiB, 8 MiB) and a boot-services-data
// one [8 MiB, 16 MiB). Its frames are [0x7FF000, 0xB00000).
namespace framebuffer_in_ram {
inline constexpr uint64_t kBase = 0x7F'F800, kSize = 3 * 1024 * 1024;
inline constexpr uint64_t kFirstFrame = 0x7F'F000, kEnd = 0xB0'0000;
inline constexpr uint64_t kRamEnd = 0x100'0000;

inline FakeMemoryMap map() {
    FakeMemoryMap m;
    m.add(boot::EfiMemoryType::kConventional, 0x10'0000, 0x700)
        .add(boot::EfiMemoryType::kBootServicesData, 0x80'0000, 0x800);
    return m;
}

inline boot::BootHandoff handoff(const FakeMemoryMap& m) {
    boot::BootHandoff h = m.handoff();
    h.framebuffer_base = kBase;
    h.framebuffer_size = kSize;
    return h;
}
}  // namespace framebuffer_in_ram
