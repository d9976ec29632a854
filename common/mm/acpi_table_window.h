// Reading ACPI tables wherever the firmware put them, as Linux does: the RSDP
// and root table may point into ACPI reclaim or NVS memory (RAM, already in
// the identity map and the phys-offset window, write-back) or into memory the
// map calls reserved, which no RAM mapping covers. For the latter the kernel
// makes a mapping of its own, AcpiTableWindow: each frame a table needs, at
// layout::kAcpiTablesBase + pa, read-only, NX, 4 KiB, write-back
// (kAcpiTablesPolicy). Those frames are in no other mapping (reserved memory
// is never RAM, never a device or the framebuffer: their own kinds), so each
// keeps one memory type.
//
// AcpiTableReader is the parser's AcpiMemory over both. It refuses, naming
// why, a range in usable RAM the kernel owns (free or loader-owned memory:
// the allocators hand it out, a table there is a corrupt pointer), in device
// memory, in the framebuffer, in no range of the map (a hole), at page 0, or
// spread over memory of more than one of those ways of reading.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/acpi_tables.h"
#include "mm/cpu_paging_features.h"
#include "mm/memory_ranges.h"
#include "mm/page_table_builder.h"
#include "mm/physical_memory.h"

namespace mm::acpi {

// The frames AcpiTableWindow mapped, in the order it mapped them.
struct AcpiTableFrames {
    static constexpr size_t kCapacity = 32;  // a MADT, an HPET table, a root table: a handful of pages
    PhysAddr frames[kCapacity];
    size_t count = 0;

    bool contains(PhysAddr frame) const {
        for (size_t i = 0; i < count; ++i)
            if (frames[i] == frame) return true;
        return false;
    }
};

// Where a frame of the window lives: kAcpiTablesBase + pa.
VirtAddr acpi_table_va(PhysAddr pa);

class AcpiTableWindow {
public:
    // `tables` reaches the builder's tables (to read the mapping back).
    AcpiTableWindow(PageTableBuilder& builder, PhysicalMemoryAccess& tables, CpuPagingFeatures cpu);

    // Maps the frames of [pa, pa + length) not mapped yet, logging each:
    //   [INFO  acpi] map table-frame pa=0x… va=0x… flags=P|NX type=WB
    // False, with the rule in *refusal, when a frame lies beyond the window,
    // the window is full, or the builder refuses (logged as `map rejected`).
    bool map(PhysAddr pa, uint64_t length, const char** refusal);

    // The physical address the mapping gives `pa` (read back from the tables,
    // so a read goes to exactly the frame the mapping names), or a null
    // PhysAddr when [pa, pa + length) is not mapped read-only and NX.
    PhysAddr mapped_frame(PhysAddr pa, uint64_t length);

    const AcpiTableFrames& frames() const { return frames_; }

private:
    PageTableBuilder& builder_;
    PhysicalMemoryAccess& tables_;
    MappingPolicy policy_;
    AcpiTableFrames frames_;
};

// The rules AcpiTableReader refuses with (rule= of the parser's violation,
// reason= of a skipped root-table entry).
inline constexpr const char* kRefusedOwnedRam = "must not point into usable RAM the kernel owns";
inline constexpr const char* kRefusedDevice = "must not point into device memory";
inline constexpr const char* kRefusedFramebuffer = "must not point into the framebuffer";
inline constexpr const char* kRefusedHole = "must point into memory the map describes";
inline constexpr const char* kRefusedPageZero = "must not point into page 0";
inline constexpr const char* kRefusedMixed = "must lie in one kind of readable memory (firmware RAM or reserved)";
inline constexpr const char* kRefusedBeyondWindow = "must lie below 512GiB, the end of the ACPI tables window";
inline constexpr const char* kRefusedWindowFull = "needs at most 32 frames of tables in reserved memory";
inline constexpr const char* kRefusedMapping = "the ACPI tables window could not map it";
inline constexpr const char* kRefusedUnreachable = "must be reachable where the kernel maps RAM";

class AcpiTableReader final : public AcpiMemory {
public:
    // How a physical range becomes a pointer, or nullptr when it cannot be
    // read that way: `firmware_ram` for ACPI reclaim/NVS and runtime memory
    // (RAM, mapped WB by the kernel's RAM mappings), `mapped` for a range the
    // window has mapped (called with the frame the window's tables name).
    using ToPointer = const uint8_t* (*)(PhysAddr pa, uint64_t length);
    AcpiTableReader(const MemoryRangeList& ranges, AcpiTableWindow& window, ToPointer firmware_ram, ToPointer mapped)
        : ranges_(ranges), window_(window), firmware_ram_(firmware_ram), mapped_(mapped) {}

    const uint8_t* bytes_at(PhysAddr pa, uint64_t length) override;
    const char* refusal() const override { return refusal_; }

private:
    const uint8_t* refuse(const char* rule) {
        refusal_ = rule;
        return nullptr;
    }

    const MemoryRangeList& ranges_;
    AcpiTableWindow& window_;
    ToPointer firmware_ram_;
    ToPointer mapped_;
    const char* refusal_ = nullptr;
};

}  // namespace mm::acpi
