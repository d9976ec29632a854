// PhysicalMemoryAccess: how page-table code reaches a table it knows only by
// its physical address.
//
// Tables name each other by physical address, but code can only dereference
// virtual ones. Putting that one translation behind an interface lets the same
// table code run in the kernel (chapter 04: the identity map; chapter 05 on:
// the phys-offset window) and in host unit tests (a buffer posing as RAM).
#pragma once

#include <stdint.h>

#include "mm/page_table_entry.h"
#include "mm/phys_addr.h"

namespace mm {

class PhysicalMemoryAccess {
public:
    // The table in the 4 KiB frame at `frame`, as a pointer this code can use.
    virtual PageTable* table_at(PhysAddr frame) = 0;

protected:
    ~PhysicalMemoryAccess() = default;  // never deleted through this interface
};

// While physical memory is identity-mapped (the loader's tables, and the
// kernel's own until chapter 08 removes the identity map), a physical address
// is its own pointer.
class IdentityMappedMemory final : public PhysicalMemoryAccess {
public:
    PageTable* table_at(PhysAddr frame) override {
        KASSERT(frame.is_aligned(kPageSize));
        return reinterpret_cast<PageTable*>(frame.value());
    }
};

}  // namespace mm
