// TemporaryWindow: one fixed virtual page through which the kernel can look at
// any physical frame, one frame at a time.
//
//   layout::kTemporaryWindowSlot (0xFFFFFFFE00000000), 4 KiB, RW+NX
//
// The slot's page table is created once, up front (create()), so mapping a
// frame into the window later writes one PTE and never allocates: it works
// when the frame allocator is empty, or is the very thing being repaired.
//
// map() returns a TemporaryMapping, an RAII guard: constructing it writes the
// slot's PTE and invalidates the slot's TLB entry, destroying it clears the
// PTE and invalidates again. There is one slot, so there is at most one live
// guard: a second map() while one is alive is a bug, and a KASSERT stops it.
//
// Why invalidate on map too? SDM Vol. 3A, 4.10.4.3 makes it optional when a
// PTE goes from not present to present — but only if the last change from
// present to not present was invalidated (its footnote 1). The guard's
// destructor always does that; the window invalidates on map anyway, so that
// no earlier TlbFlush on its slot that was ignore()d (see remap()) can ever
// leak into the next mapping. One INVLPG per map is cheap. (SerenityOS
// quickmap_page does the same; Linux's kmap_local flushes on unmap only.)
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/address_space_layout.h"
#include "mm/cpu_paging_features.h"
#include "mm/mapping_policy.h"
#include "mm/page_table_builder.h"
#include "mm/page_table_entry.h"
#include "mm/phys_addr.h"
#include "mm/physical_memory.h"
#include "support/assert.h"
#include "mm/tlb_flush.h"
#include "mm/virt_addr.h"

namespace mm {

// The slot is plain data: read-write, never executable, one 4 KiB page.
inline constexpr MappingPolicy kTemporaryWindowPolicy = {leaf_flags::kKernelData, PageSize::k4KiB};

class TemporaryWindow;

// book:begin temporary-mapping
// One frame, visible at the window's slot for as long as this guard lives.
class [[nodiscard]] TemporaryMapping {
public:
    TemporaryMapping(const TemporaryMapping&) = delete;
    TemporaryMapping& operator=(const TemporaryMapping&) = delete;
    ~TemporaryMapping();  // clears the slot's PTE, then invalidates the slot

    VirtAddr va() const;
    PhysAddr frame() const { return frame_; }

    // The byte at `offset` of the frame, as a T. Use a volatile T for memory
    // that something else (a device, another CPU, the demonstration) changes.
    template <typename T>
    T* ptr(size_t offset = 0) const {
        KASSERT(offset <= kPageSize - sizeof(T) && offset % alignof(T) == 0);
        return reinterpret_cast<T*>(va().value() + offset);
    }

    // Points the live slot at `frame` instead, in place. This changes a
    // present PTE, so the CPU may keep translating the slot to the old frame
    // until it is invalidated: the caller decides, with the token.
    TlbFlush remap(PhysAddr frame);

private:
    friend class TemporaryWindow;
    TemporaryMapping(TemporaryWindow& window, PhysAddr frame) : window_(window), frame_(frame) {}

    TemporaryWindow& window_;
    PhysAddr frame_;
};
// book:end temporary-mapping

class TemporaryWindow {
public:
    // Not usable until create() has filled it in.
    TemporaryWindow() = default;
    TemporaryWindow(const TemporaryWindow&) = delete;
    TemporaryWindow& operator=(const TemporaryWindow&) = delete;

    // Makes the page table for `slot` exist in `builder`'s tables (creating
    // the missing ones from its FrameSource) and takes the slot over. The slot
    // must be unmapped. Returns what prepare_page_table() returned; on success
    // this window is ready.
    TableResult create(PageTableBuilder& builder, PhysicalMemoryAccess& tables, TlbInvalidator& tlb,
                       CpuPagingFeatures cpu, VirtAddr slot = layout::kTemporaryWindowSlot);

    // Maps the 4 KiB frame at `frame` (aligned, below 2^52) at the slot.
    // KASSERTs that no other TemporaryMapping is alive.
    TemporaryMapping map(PhysAddr frame);

    bool ready() const { return tlb_ != nullptr; }
    bool in_use() const { return in_use_; }
    VirtAddr slot() const { return slot_; }
    PhysAddr page_table() const { return page_table_; }
    uint64_t leaf_flags() const { return leaf_flags_; }
    // How many times map() was called: for the self-test's log line.
    uint64_t maps() const { return maps_; }

private:
    friend class TemporaryMapping;

    // The slot's PTE, reached through `tables_` every time: the pointer for a
    // physical address changes when the kernel moves from the identity map to
    // the phys window.
    PageTableEntry& slot_entry();
    // Writes the PTE for `frame` (not the TLB): the one place the slot's leaf is set.
    void write_entry(PhysAddr frame);
    void unmap();

    PhysicalMemoryAccess* tables_ = nullptr;
    TlbInvalidator* tlb_ = nullptr;
    VirtAddr slot_;
    PhysAddr page_table_;
    uint64_t leaf_flags_ = 0;
    bool in_use_ = false;
    uint64_t maps_ = 0;
};

// The phase: makes `window` the kernel's temporary window at
// layout::kTemporaryWindowSlot in `builder`'s tables. Logs
//   [INFO  paging] phase create_temporary_window va=… pt=… tables=… flags=P|RW|NX
// or, refused, `temporary window rejected` with the rule, and returns the result.
TableResult create_temporary_window(PageTableBuilder& builder, PhysicalMemoryAccess& tables, TlbInvalidator& tlb,
                                    CpuPagingFeatures cpu, TemporaryWindow& window);

}  // namespace mm
