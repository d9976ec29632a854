#include "mm/memory_ranges.h"

namespace mm {

using boot::EfiMemoryType;

const char* range_kind_name(RangeKind kind) {
    switch (kind) {
        case RangeKind::kUsable: return "usable";
        case RangeKind::kKernelImage: return "kernel-image";
        case RangeKind::kBootHandoff: return "boot-handoff";
        case RangeKind::kBootPageTables: return "boot-page-tables";
        case RangeKind::kBootStack: return "boot-stack";
        case RangeKind::kLoaderCode: return "loader-code";
        case RangeKind::kBootModules: return "boot-modules";
        case RangeKind::kAcpiReclaim: return "acpi-reclaim";
        case RangeKind::kAcpiNvs: return "acpi-nvs";
        case RangeKind::kFirmwareRuntime: return "firmware-runtime";
        case RangeKind::kReserved: return "reserved";
        case RangeKind::kDevice: return "device";
        case RangeKind::kFramebuffer: return "framebuffer";
    }
    return "?";
}

const char* range_class_name(RangeClass cls) {
    switch (cls) {
        case RangeClass::kUsable: return "usable";
        case RangeClass::kLoaderOwned: return "loader-owned";
        case RangeClass::kFirmware: return "firmware";
        case RangeClass::kReserved: return "reserved";
        case RangeClass::kDevice: return "device";
    }
    return "?";
}

RangeClass range_class(RangeKind kind) {
    switch (kind) {
        case RangeKind::kUsable: return RangeClass::kUsable;
        case RangeKind::kKernelImage:
        case RangeKind::kBootHandoff:
        case RangeKind::kBootPageTables:
        case RangeKind::kBootStack:
        case RangeKind::kLoaderCode:
        case RangeKind::kBootModules: return RangeClass::kLoaderOwned;
        case RangeKind::kAcpiReclaim:
        case RangeKind::kAcpiNvs:
        case RangeKind::kFirmwareRuntime: return RangeClass::kFirmware;
        case RangeKind::kReserved:
        case RangeKind::kFramebuffer: return RangeClass::kReserved;  // not RAM, mapped only by its own phase
        case RangeKind::kDevice: return RangeClass::kDevice;
    }
    return RangeClass::kFirmware;
}

// book:begin range-kind
namespace {

// The kind of a RAM type, or kDevice for every type that is not RAM.
RangeKind kind_of_ram_type(EfiMemoryType type) {
    switch (type) {
        // Free once ExitBootServices has returned (UEFI 2.10, 7.2.1, Table 7-6):
        // the loader's pool is dead too, because everything the kernel still
        // needs was copied into the loader-owned types below.
        case EfiMemoryType::kConventional:
        case EfiMemoryType::kBootServicesCode:
        case EfiMemoryType::kBootServicesData:
        case EfiMemoryType::kLoaderData: return RangeKind::kUsable;
        // Free by the same table, but kept for good: the handover trampoline's
        // page is loader code, and it stays executable in the bootstrap tables
        // the kernel runs on (common/boot/handover_trampoline.h). A kernel that
        // handed it out and wrote to it there would fault. It costs the
        // loader's image, a hundred KiB or so; a kernel on its own tables
        // could take it back.
        case EfiMemoryType::kLoaderCode: return RangeKind::kLoaderCode;
        case EfiMemoryType::kKernelImage: return RangeKind::kKernelImage;
        case EfiMemoryType::kBootHandoff: return RangeKind::kBootHandoff;
        case EfiMemoryType::kBootPageTables: return RangeKind::kBootPageTables;
        case EfiMemoryType::kBootStack: return RangeKind::kBootStack;
        case EfiMemoryType::kBootModules: return RangeKind::kBootModules;
        case EfiMemoryType::kAcpiReclaim: return RangeKind::kAcpiReclaim;
        case EfiMemoryType::kAcpiNvs: return RangeKind::kAcpiNvs;
        case EfiMemoryType::kRuntimeServicesCode:
        case EfiMemoryType::kRuntimeServicesData: return RangeKind::kFirmwareRuntime;
        default: return RangeKind::kDevice;
    }
}

// The types the kernel knows are not RAM: the firmware's and the platform's.
bool is_known_other_type(EfiMemoryType type) {
    switch (type) {
        case EfiMemoryType::kReserved:
        case EfiMemoryType::kUnusable:
        case EfiMemoryType::kMmio:
        case EfiMemoryType::kMmioPortSpace:
        case EfiMemoryType::kPalCode:
        case EfiMemoryType::kPersistent:
        case EfiMemoryType::kUnaccepted: return true;
        default: return false;
    }
}

}  // namespace

DescriptorKind classify_descriptor(const MemoryDescriptor& d) {
    const bool write_back = (d.attributes() & boot::kEfiMemoryWb) != 0;
    // RAM by type; the attributes can only take that away: RAM is mapped WB.
    if (const RangeKind ram = kind_of_ram_type(d.type()); ram != RangeKind::kDevice)
        return write_back ? DescriptorKind{ram, nullptr} : DescriptorKind{RangeKind::kReserved, kRefusedRamWithoutWb};
    if (d.type() == EfiMemoryType::kMmio || d.type() == EfiMemoryType::kMmioPortSpace)
        return {RangeKind::kDevice, nullptr};
    // Never RAM. Memory that could be cached WB is the firmware's ("reserved":
    // unusable DRAM, persistent memory, carve-outs); the rest is device
    // memory, like the PCIe configuration window OVMF marks reserved with the
    // uncached attribute only.
    const RangeKind kind = write_back ? RangeKind::kReserved : RangeKind::kDevice;
    return {kind, is_known_other_type(d.type()) ? nullptr : kRefusedUnknownType};
}
// book:end range-kind

Violation MemoryRangeList::build(const MemoryDescriptorView& map) {
    count_ = 0;
    set_aside_count_ = 0;
    for (auto it = map.begin(); it != map.end(); ++it) {
        const MemoryDescriptor d = *it;
        PhysAddr end;
        if (!d.end(&end)) return reject("descriptor.number_of_pages", d.pages(), "range must not overflow", it.index());
        if (Violation v = insert({d.physical_start(), end, range_kind_of(d)}); !v.ok()) {
            v.index = it.index();
            return v;
        }
    }
    return accept();
}

// book:begin insert-merge
// Insertion into the sorted list, merging with a neighbour of the same kind
// that touches the new range. Overlaps were rejected by validate_handoff; they
// are asserted here because merging would hide one.
Violation MemoryRangeList::insert(MemoryRange range) {
    size_t at = 0;
    while (at < count_ && ranges_[at].start < range.start) ++at;
    KASSERT(at == 0 || ranges_[at - 1].end <= range.start);
    KASSERT(at == count_ || range.end <= ranges_[at].start);

    const bool joins_previous = at > 0 && ranges_[at - 1].end == range.start && ranges_[at - 1].kind == range.kind;
    const bool joins_next = at < count_ && ranges_[at].start == range.end && ranges_[at].kind == range.kind;
    if (joins_previous && joins_next) {
        ranges_[at - 1].end = ranges_[at].end;
        for (size_t i = at; i + 1 < count_; ++i) ranges_[i] = ranges_[i + 1];
        --count_;
    } else if (joins_previous) {
        ranges_[at - 1].end = range.end;
    } else if (joins_next) {
        ranges_[at].start = range.start;
    } else {
        if (count_ == kCapacity)
            return reject("memory_map", count_, "needs more than MemoryRangeList::kCapacity (256) ranges after merging");
        for (size_t i = count_; i > at; --i) ranges_[i] = ranges_[i - 1];
        ranges_[at] = range;
        ++count_;
    }
    return accept();
}
// book:end insert-merge

void MemoryRangeList::erase(size_t index) {
    KASSERT(index < count_);
    for (size_t i = index; i + 1 < count_; ++i) ranges_[i] = ranges_[i + 1];
    --count_;
}

// book:begin set-aside
Violation MemoryRangeList::set_aside(PhysAddr start, uint64_t size, RangeKind kind, const char* field) {
    uint64_t last = 0, end_value = 0;
    if (size == 0) return reject(field, start.value(), "must not be empty (size 0)");
    if (__builtin_add_overflow(start.value(), size, &last) || !align_up(last, kPageSize, &end_value) ||
        end_value > PhysAddr::kLimit)
        return reject(field, start.value(), "must end below the physical address limit");
    if (set_aside_count_ == kSetAsideCapacity) return reject(field, start.value(), "at most 2 set-aside ranges");
    SetAside record{start.page_base(), PhysAddr(end_value), kind};
    // Check every range it meets before changing any: all or nothing.
    for (const MemoryRange& r : *this) {
        if (r.end <= record.start || r.start >= record.end || r.kind == kind) continue;
        const RangeClass cls = range_class(r.kind);
        if (cls == RangeClass::kLoaderOwned || cls == RangeClass::kFirmware) return reject(field, start.value(), kRefusedSetAside);
    }
    // Then each range it meets, one at a time: out of the list, back in as up
    // to three pieces (before, inside, after), which insert() merges.
    for (;;) {
        size_t i = 0;
        while (i < count_ && (ranges_[i].end <= record.start || ranges_[i].start >= record.end || ranges_[i].kind == kind)) ++i;
        if (i == count_) break;
        const MemoryRange r = ranges_[i];
        const PhysAddr inside_start = r.start < record.start ? record.start : r.start;
        const PhysAddr inside_end = r.end < record.end ? r.end : record.end;
        record.was |= uint32_t(1) << unsigned(r.kind);
        if (is_ram_class(range_class(r.kind))) record.ram_bytes += inside_end - inside_start;
        erase(i);
        if (r.start < inside_start)
            if (Violation v = insert({r.start, inside_start, r.kind}); !v.ok()) return v;
        if (Violation v = insert({inside_start, inside_end, kind}); !v.ok()) return v;
        if (inside_end < r.end)
            if (Violation v = insert({inside_end, r.end, r.kind}); !v.ok()) return v;
    }
    set_asides_[set_aside_count_++] = record;
    return accept();
}
// book:end set-aside

uint64_t MemoryRangeList::total_bytes(RangeClass cls) const {
    uint64_t total = 0;
    for (const MemoryRange& r : *this)
        if (range_class(r.kind) == cls) total += r.size();
    return total;
}

uint64_t MemoryRangeList::ram_bytes() const {
    return total_bytes(RangeClass::kUsable) + total_bytes(RangeClass::kLoaderOwned) + total_bytes(RangeClass::kFirmware);
}

PhysAddr MemoryRangeList::ram_end() const {
    for (size_t i = count_; i > 0; --i)
        if (is_ram_class(range_class(ranges_[i - 1].kind))) return ranges_[i - 1].end;
    return PhysAddr(0);
}

const MemoryRange* MemoryRangeList::find(PhysAddr address) const {
    for (const MemoryRange& r : *this)
        if (r.contains(address)) return &r;
    return nullptr;
}

}  // namespace mm
