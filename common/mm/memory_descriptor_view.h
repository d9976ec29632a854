// MemoryDescriptorView: the UEFI memory map, read one descriptor at a time.
//
// The firmware decides how far apart descriptors are: `descriptor_size` from
// GetMemoryMap, which is larger than sizeof(EFI_MEMORY_DESCRIPTOR) on real
// machines (OVMF uses 48 bytes for a 40-byte struct) so that the spec can grow
// the struct. Stepping by sizeof() would read every descriptor after the first
// from the wrong offset. This view always strides by `descriptor_size`
// (UEFI 2.10, 7.2.3 "EFI_BOOT_SERVICES.GetMemoryMap()").
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "boot/uefi_memory.h"
#include "mm/phys_addr.h"
#include "support/assert.h"

namespace mm {

// One descriptor, copied out of the map: the buffer only guarantees the
// alignment the firmware chose, so fields are never read in place.
class MemoryDescriptor {
public:
    explicit MemoryDescriptor(const uint8_t* bytes) { __builtin_memcpy(&raw_, bytes, sizeof(raw_)); }

    uint32_t type_code() const { return raw_.type; }
    boot::EfiMemoryType type() const { return static_cast<boot::EfiMemoryType>(raw_.type); }
    const char* type_name() const { return boot::memory_type_name(raw_.type); }
    PhysAddr physical_start() const { return PhysAddr(raw_.physical_start); }
    uint64_t pages() const { return raw_.number_of_pages; }
    uint64_t attributes() const { return raw_.attribute; }

    // The exclusive end, or false when start + pages * 4 KiB does not fit in
    // 64 bits (a corrupt map must not wrap around to a small address).
    bool end(PhysAddr* result) const {
        uint64_t bytes = 0, end = 0;
        if (__builtin_mul_overflow(raw_.number_of_pages, kPageSize, &bytes)) return false;
        if (__builtin_add_overflow(raw_.physical_start, bytes, &end)) return false;
        *result = PhysAddr(end);
        return true;
    }

private:
    boot::EfiMemoryDescriptor raw_;
};

class MemoryDescriptorView {
public:
    MemoryDescriptorView() = default;  // an empty map

    // `map` holds `map_size` bytes; validate_handoff() has checked the
    // geometry, and the asserts restate what this class relies on.
    MemoryDescriptorView(const uint8_t* map, uint64_t map_size, uint64_t descriptor_size)
        : map_(map), count_(descriptor_size ? map_size / descriptor_size : 0), stride_(descriptor_size) {
        KASSERT(descriptor_size >= sizeof(boot::EfiMemoryDescriptor));
        KASSERT(map_size % descriptor_size == 0);
    }

    size_t count() const { return count_; }

// book:begin descriptor-stride
    MemoryDescriptor at(size_t index) const {
        KASSERT(index < count_);
        return MemoryDescriptor(map_ + index * stride_);
    }
// book:end descriptor-stride

    class Iterator {
    public:
        Iterator(const MemoryDescriptorView* view, size_t index) : view_(view), index_(index) {}
        MemoryDescriptor operator*() const { return view_->at(index_); }
        Iterator& operator++() {
            ++index_;
            return *this;
        }
        bool operator!=(const Iterator& other) const { return index_ != other.index_; }
        size_t index() const { return index_; }

    private:
        const MemoryDescriptorView* view_;
        size_t index_;
    };
    Iterator begin() const { return Iterator(this, 0); }
    Iterator end() const { return Iterator(this, count_); }

private:
    const uint8_t* map_ = nullptr;
    size_t count_ = 0;
    size_t stride_ = 0;
};

}  // namespace mm
