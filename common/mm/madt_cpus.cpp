#include "mm/madt_cpus.h"

#include "mm/acpi_tables.h"

namespace mm::acpi {
namespace {

uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

bool listed(const MadtCpus& cpus, uint32_t apic_id) {
    for (size_t i = 0; i < cpus.count; ++i)
        if (cpus.cpu[i].apic_id == apic_id) return true;
    return false;
}

// One processor entry, either type: its ID, UID and flags already read.
void add_processor(MadtCpus* out, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2apic_entry) {
    const bool enabled = (flags & kMadtFlagEnabled) != 0;
    const bool online_capable = out->madt_revision >= kMadtOnlineCapableRevision && (flags & kMadtFlagOnlineCapable) != 0;
    if (!enabled) {
        if (online_capable) ++out->online_capable;
        else ++out->unusable;
        return;
    }
    if (listed(*out, apic_id)) {
        // The BSP was put at index 0 before the walk: its own entry is no duplicate.
        if (apic_id == out->cpu[0].apic_id && !out->bsp_listed) {
            out->bsp_listed = true;
            out->cpu[0].uid = uid;
            out->cpu[0].x2apic_entry = x2apic_entry;
        } else {
            ++out->duplicates;
        }
        return;
    }
    if (out->count == MadtCpus::kCapacity) {
        ++out->beyond_capacity;
        return;
    }
    out->cpu[out->count++] = {apic_id, uid, x2apic_entry};
}

}  // namespace

// book:begin read-madt-cpus
// lab:begin read-madt-cpus
Violation read_madt_cpus(const uint8_t* madt, uint32_t length, uint32_t bsp_apic_id, MadtCpus* out) {
    *out = MadtCpus{};
    if (length < kMadtFixedLength) return reject("madt.length", length, "must cover the table's fixed part (44 bytes)");
    if (le32(madt + 4) != length) return reject("madt.length", le32(madt + 4), "must equal the bytes read");
    out->madt_revision = madt[8];
    out->cpu[out->count++] = {bsp_apic_id, 0, false};  // the CPU running this is online already
    uint64_t entry = 0;
    for (uint32_t at = kMadtFixedLength; at < length; ++entry) {
        if (length - at < 2) return reject("madt.entry.length", length - at, "entry header must fit in the table", entry);
        const uint8_t type = madt[at];
        const uint8_t entry_length = madt[at + 1];
        if (entry_length < 2 || entry_length > length - at)
            return reject("madt.entry.length", entry_length, "must be at least 2 and end inside the table", entry);
        const uint8_t* e = madt + at;
        if (type == kMadtLocalApic) {
            if (entry_length < kMadtLocalApicLength)
                return reject("madt.lapic.length", entry_length, "must be at least 8", entry);
            ++out->xapic_entries;
            const uint32_t apic_id = e[3];
            if (apic_id == kNoXApicId) ++out->invalid_ids;
            else add_processor(out, apic_id, e[2], le32(e + 4), false);
        } else if (type == kMadtLocalX2Apic) {
            if (entry_length < kMadtLocalX2ApicLength)
                return reject("madt.x2apic.length", entry_length, "must be at least 16", entry);
            ++out->x2apic_entries;
            const uint32_t apic_id = le32(e + 4);
            if (apic_id == kNoX2ApicId) ++out->invalid_ids;
            else add_processor(out, apic_id, le32(e + 12), le32(e + 8), true);
        }
        at += entry_length;
    }
    return accept();
}
// lab:end read-madt-cpus
// book:end read-madt-cpus

}  // namespace mm::acpi
