// The phys-offset window: all RAM, mapped once at a fixed offset in the
// upper half, so the kernel can reach any physical address as
// kPhysWindowBase + pa without touching the page tables again.
//
// Phase map_phys_offset_regions builds it over every RAM run of the range
// list (usable, loader-owned, ACPI, firmware; never reserved or device
// ranges), RW+NX, with 1 GiB pages where the CPU has them and both addresses
// are 1 GiB aligned, else 2 MiB, 4 KiB only at the edges of a run, and never
// a large page whose span has two MTRR types (mtrr.h). The window base is
// 1 GiB aligned, so "both addresses aligned" reduces to the physical one.
// RAM that ends beyond the window's 64 TiB is refused, not cut.
//
// The window is an alias of every RAM frame, so it keeps the frame
// exceptions (ram_run_mapper.h): the kernel image's text and rodata are
// read-only here (never writable where they are executable). The framebuffer
// is never in a RAM run (the range list sets it aside, boot_memory.h), so it
// is not mapped here at all (never write-back where it is write-combining).
#pragma once

#include "mm/address_space_layout.h"
#include "mm/cpu_paging_features.h"
#include "mm/memory_ranges.h"
#include "mm/page_table_builder.h"
#include "mm/physical_memory.h"
#include "mm/ram_run_mapper.h"
#include "support/assert.h"

namespace mm {

static_assert(layout::kPhysWindowBase.is_aligned(GiB) && layout::five_level::kPhysWindowBase.is_aligned(GiB));

// Where the window is: layout::kPhysWindowBase and its 64 TiB, unless the
// kernel runs five levels of tables (chapter 16), which move it to
// layout::five_level's base above 2^56, over all 2^52 bytes. Chosen once,
// before the first table is built (use_five_level_phys_window), so one image
// runs at either depth; Linux keeps the same choice in page_offset_base.
// Fixed once the kernel's tables are live (BootTableAccess::use_window):
// from then on pointers into the window exist, and a move would strand them.
struct PhysWindowPlace {
    VirtAddr base;
    uint64_t size;
};
namespace detail {
inline PhysWindowPlace g_phys_window{layout::kPhysWindowBase, layout::kPhysWindowSize};
inline bool g_phys_window_fixed = false;
}  // namespace detail
inline PhysWindowPlace phys_window() { return detail::g_phys_window; }
inline void fix_phys_window() { detail::g_phys_window_fixed = true; }
inline void use_five_level_phys_window() {
    KASSERT(!detail::g_phys_window_fixed);  // tables are live at the old place
    detail::g_phys_window = {layout::five_level::kPhysWindowBase, layout::five_level::kPhysWindowSize};
}
// A layout region where it is now: the phys window at its chosen place, the rest as laid out.
inline layout::Region placed(const layout::Region& r) {
    return r.base == layout::kPhysWindowBase ? layout::Region{r.name, phys_window().base, phys_window().size} : r;
}

// book:begin phys-to-virt
// Where physical address `pa` appears in the window: kPhysWindowBase + pa
// (phys_window(), which chapter 16 moves for five levels). Only meaningful once
// the window is mapped and for RAM (device memory is never in the window).
inline VirtAddr phys_to_virt(PhysAddr pa) {
    KASSERT(pa.value() < phys_window().size);
    return phys_window().base + pa.value();
}
// book:end phys-to-virt

// The inverse, for a pointer into the window.
inline PhysAddr window_to_phys(const void* pointer) {
    const VirtAddr va(reinterpret_cast<uint64_t>(pointer));
    const PhysWindowPlace window = phys_window();
    KASSERT(va >= window.base && va - window.base < window.size);
    return PhysAddr(va - window.base);
}

template <typename T>
T* phys_to_pointer(PhysAddr pa) {
    return reinterpret_cast<T*>(phys_to_virt(pa).value());
}

// Page tables reached through the window: what PageTableBuilder uses once the
// window is live, so every new table frame is zeroed through it.
class PhysWindowMemory final : public PhysicalMemoryAccess {
public:
    PageTable* table_at(PhysAddr frame) override { return phys_to_pointer<PageTable>(frame); }
};

// How the kernel reaches page tables while it builds its address space:
// through the identity map (the loader's, then its own) until the window is
// live, through the window from then on. One object, handed to the
// PageTableBuilder once, so the builder never learns which it is.
class BootTableAccess final : public PhysicalMemoryAccess {
public:
    PageTable* table_at(PhysAddr frame) override {
        return window_live_ ? window_.table_at(frame) : reinterpret_cast<PageTable*>(frame.value());
    }
    // Call right after loading a CR3 whose tables contain the window; the
    // window stays where it is from then on.
    void use_window() {
        window_live_ = true;
        fix_phys_window();
    }
    bool window_live() const { return window_live_; }

private:
    PhysWindowMemory window_;
    bool window_live_ = false;
};

// The phase. Logs one `window run` line per run, one line per exception a
// run meets (map_ram_runs) and one line for the phase (with split-by-mtrr=,
// the large pages the MTRRs split); on a refusal logs `map rejected` and
// returns it (kOutsideRegion, with region=phys-window, for RAM past the
// window's end).
MapResult map_phys_offset_regions(PageTableBuilder& builder, const MemoryRangeList& ranges,
                                  const FrameExceptions& exceptions, CpuPagingFeatures cpu);

}  // namespace mm
