// MemoryRangeList: the memory map normalised into what the kernel needs to know.
//
// The firmware's map is unsorted, split into many small descriptors, and uses
// two dozen types. Later chapters ask simpler questions: which frames may I
// hand out? what must I never touch? what is RAM at all? So the map is turned
// once into a sorted list of disjoint ranges, each with a RangeKind, and
// neighbours of the same kind are merged.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/memory_descriptor_view.h"
#include "mm/phys_addr.h"
#include "support/violation.h"

namespace mm {

enum class RangeKind : uint8_t {
    kUsable,          // free after ExitBootServices: conventional, boot-services code/data, loader data
    kKernelImage,     // loader-owned: what the kernel runs from and on,
    kBootHandoff,     //   and what it was handed; reserved until the
    kBootPageTables,  //   kernel has its own copy or no longer needs it
    kBootStack,
    kLoaderCode,      //   the loader's code, which holds the handover trampoline
    kBootModules,     // loader-owned: the user programs' files (chapter 12 on)
    kAcpiReclaim,     // ACPI tables: keep until parsed (chapter 06)
    kAcpiNvs,         // firmware's ACPI storage: never touch
    kFirmwareRuntime, // UEFI runtime services code and data
    kReserved,        // not RAM to the kernel, never mapped: reserved, unusable, persistent, unknown
                      //   types, and RAM types the firmware does not let us cache write-back
    kDevice,          // not RAM: MMIO, port space, and reserved ranges that cannot be cached write-back
    kFramebuffer,     // the GOP framebuffer, whatever the map called it: set aside (see set_aside())
};

// The coarse classes the kernel prints totals for. The first three are RAM
// (is_ram_class): what the identity map and the phys-offset window map, WB.
enum class RangeClass : uint8_t { kUsable, kLoaderOwned, kFirmware, kReserved, kDevice };

const char* range_kind_name(RangeKind kind);
const char* range_class_name(RangeClass cls);
RangeClass range_class(RangeKind kind);

// RAM: usable, loader-owned and firmware memory. Reserved and device ranges
// are not, and nothing maps them as RAM.
constexpr bool is_ram_class(RangeClass cls) {
    return cls == RangeClass::kUsable || cls == RangeClass::kLoaderOwned || cls == RangeClass::kFirmware;
}

// What one descriptor becomes: its kind, and, when the firmware said
// something the kernel refuses to take at its word, the rule that refused it
// (logged by log_refused_descriptors; nullptr when there is nothing to say).
struct DescriptorKind {
    RangeKind kind;
    const char* refusal;
};

// The type decides whether a descriptor is RAM, the attributes can only take
// that away: the RAM types (the ones Linux's EFI memory map code trusts:
// conventional, loader and boot-services code and data, ACPI reclaim and NVS,
// runtime code and data, and our loader's own) are RAM only when they may be
// cached write-back (EFI_MEMORY_WB), because RAM is mapped WB; every other
// type is never RAM, whatever its attributes: reserved, unusable (bad DRAM),
// persistent, PAL code, unaccepted, and any type this kernel does not know.
DescriptorKind classify_descriptor(const MemoryDescriptor& descriptor);
inline RangeKind range_kind_of(const MemoryDescriptor& descriptor) { return classify_descriptor(descriptor).kind; }

// The rules classify_descriptor() refuses with, for tests and log readers.
inline constexpr const char* kRefusedRamWithoutWb =
    "a RAM type must allow write-back caching (EFI_MEMORY_WB) to be mapped as RAM";
inline constexpr const char* kRefusedUnknownType = "an unknown memory type is not RAM, whatever its attributes";

// A range set_aside() took out of what the map said, for the log line that
// says so (log_ranges) and for accounts kept from the descriptors themselves.
struct SetAside {
    PhysAddr start;  // page-aligned
    PhysAddr end;    // page-aligned, exclusive
    RangeKind kind;  // what it became
    uint32_t was = 0;          // one bit per RangeKind the map had there (1 << kind)
    uint64_t ram_bytes = 0;    // of it, what had been RAM: now never mapped as RAM nor handed out
};

// The rule set_aside() refuses with.
inline constexpr const char* kRefusedSetAside =
    "must lie in usable, reserved or device memory or outside the map, not in loader-owned or firmware memory";

struct MemoryRange {
    PhysAddr start;
    PhysAddr end;  // exclusive
    RangeKind kind;

    uint64_t size() const { return end - start; }
    bool contains(PhysAddr address) const { return start <= address && address < end; }
};

class MemoryRangeList {
public:
    // Far more than any real map needs after merging (OVMF: ~130 descriptors
    // become ~30 ranges), small enough to live in .bss.
    static constexpr size_t kCapacity = 256;

    // Builds the list from a validated map (validate_handoff: page-aligned,
    // no overflow, no overlap). Fails only when the ranges do not fit.
    Violation build(const MemoryDescriptorView& map);

    size_t count() const { return count_; }
    const MemoryRange& operator[](size_t index) const {
        KASSERT(index < count_);
        return ranges_[index];
    }
    const MemoryRange* begin() const { return ranges_; }
    const MemoryRange* end() const { return ranges_ + count_; }

    uint64_t total_bytes(RangeClass cls) const;
    // usable + loader-owned + firmware: every byte of RAM the kernel may map.
    uint64_t ram_bytes() const;
    // The end of the highest range that is RAM (is_ram_class).
    PhysAddr ram_end() const;
    // The range holding `address`, or nullptr when the map does not describe it.
    const MemoryRange* find(PhysAddr address) const;

    // The one place that decides "these frames are not RAM for us" beyond the
    // map's own types: gives [start, start + size), widened to whole pages,
    // the kind `kind` wherever the map describes it, splitting ranges at its
    // edges. Every later user reads kinds from this list: the frame
    // allocators take kUsable only, the RAM mappings RAM classes only, so
    // neither ever meets these frames. Refuses, naming `field` and `start`, an
    // empty range, one past the physical limit, one that overlaps loader-owned
    // or firmware memory (kRefusedSetAside), and a third set-aside.
    Violation set_aside(PhysAddr start, uint64_t size, RangeKind kind, const char* field);
    static constexpr size_t kSetAsideCapacity = 2;
    size_t set_aside_count() const { return set_aside_count_; }
    const SetAside& set_aside_at(size_t i) const {
        KASSERT(i < set_aside_count_);
        return set_asides_[i];
    }

private:
    Violation insert(MemoryRange range);
    void erase(size_t index);

    MemoryRange ranges_[kCapacity];
    size_t count_ = 0;
    SetAside set_asides_[kSetAsideCapacity];
    size_t set_aside_count_ = 0;
};

}  // namespace mm
