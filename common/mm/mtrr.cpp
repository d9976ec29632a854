#include "mm/mtrr.h"

#include "support/assert.h"
#include "support/log.h"
#include "support/units.h"

namespace mm {
namespace {

using namespace mtrr_type;

// Two types that both apply to one byte (SDM Vol. 3A, 11.11.4.1): UC wins
// over everything, WT over WB, one type with itself is itself; any other
// pair is undefined, and stays so unless UC joins.
uint8_t combine(uint8_t a, uint8_t b) {
    if (a == kUncacheable || b == kUncacheable) return kUncacheable;
    if (a == b) return a;
    if ((a == kWriteThrough && b == kWriteBack) || (a == kWriteBack && b == kWriteThrough)) return kWriteThrough;
    return kUndefined;
}

size_t fixed_index(uint64_t pa) {
    if (pa < 0x8'0000) return pa / (64 * KiB);
    if (pa < 0xC'0000) return 8 + (pa - 0x8'0000) / (16 * KiB);
    return 24 + (pa - 0xC'0000) / (4 * KiB);
}

// Whether the fixed ranges over [start, end) (inside the first MiB) all
// have one type, and which.
SpanType fixed_span_type(const MtrrState& m, uint64_t start, uint64_t end) {
    const size_t first = fixed_index(start), last = fixed_index(end - 1);
    for (size_t i = first + 1; i <= last; ++i)
        if (m.fixed[i] != m.fixed[first]) return {false, m.fixed[first]};
    return {true, m.fixed[first]};
}

// The variable ranges and the default type over the aligned span
// [start, start + size). Inside it the bits of an address at and above
// log2(size) are those of `start`, and the bits below take every value. So a
// range matches no byte of the span when its mask disagrees with `start`
// above log2(size), matches every byte when its mask has no bit below, and
// otherwise matches some bytes and not others ("partial").
SpanType variable_span_type(const MtrrState& m, uint64_t start, uint64_t size) {
    const uint64_t low = size - 1;
    bool any_full = false;
    uint8_t full = kUncacheable;
    for (size_t i = 0; i < m.variable_count; ++i) {
        const MtrrVariableRange& r = m.variable[i];
        if (((start ^ r.base) & r.mask & ~low) != 0 || (r.mask & low) != 0) continue;
        full = any_full ? combine(full, r.type) : r.type;
        any_full = true;
    }
    const uint8_t type = any_full ? full : m.default_type;
    // A byte a partial range matches gets the full ranges' type combined with
    // that range's (with several partial ranges, with all of theirs: if each
    // alone leaves the type as it is, so do they together).
    for (size_t i = 0; i < m.variable_count; ++i) {
        const MtrrVariableRange& r = m.variable[i];
        if (((start ^ r.base) & r.mask & ~low) != 0 || (r.mask & low) == 0) continue;
        if ((any_full ? combine(full, r.type) : r.type) != type) return {false, type};
    }
    return {true, type};
}

uint64_t address_mask(unsigned physical_address_bits) {
    return ((uint64_t(1) << physical_address_bits) - 1) & ~uint64_t(kPageSize - 1);
}

}  // namespace

const char* mtrr_type_name(uint8_t type) {
    switch (type) {
        case kUncacheable: return "UC";
        case kWriteCombining: return "WC";
        case kWriteThrough: return "WT";
        case kWriteProtected: return "WP";
        case kWriteBack: return "WB";
        case kUndefined: return "undefined";
        default: return "reserved";
    }
}

bool MtrrVariableRange::contiguous(unsigned physical_address_bits) const {
    // The clear bits of the mask, within the address width, must all lie
    // below its set bits: ~mask is then one block of low ones.
    const uint64_t clear = ~mask & address_mask(physical_address_bits);
    return ((clear + kPageSize) & clear) == 0;
}

uint64_t MtrrVariableRange::size(unsigned physical_address_bits) const {
    return (~mask & address_mask(physical_address_bits)) + kPageSize;
}

uint64_t mtrr_fixed_start(size_t index) {
    KASSERT(index < MtrrState::kFixedRanges);
    if (index < 8) return index * 64 * KiB;
    if (index < 24) return 0x8'0000 + (index - 8) * 16 * KiB;
    return 0xC'0000 + (index - 24) * 4 * KiB;
}

uint64_t mtrr_fixed_size(size_t index) {
    KASSERT(index < MtrrState::kFixedRanges);
    return index < 8 ? 64 * KiB : index < 24 ? 16 * KiB : 4 * KiB;
}

uint8_t MtrrState::type_at(PhysAddr pa) const {
    if (!present) return kWriteBack;  // no MTRRs: only the PAT decides, and every address is alike
    if (!enabled) return kUncacheable;
    if (fixed_in_force() && pa.value() < kFixedEnd) return fixed[fixed_index(pa.value())];
    return variable_span_type(*this, pa.page_base().value(), kPageSize).type;
}

SpanType MtrrState::span_type(PhysAddr pa, uint64_t size) const {
    KASSERT(size >= kPageSize && (size & (size - 1)) == 0 && pa.is_aligned(size));
    if (!present) return {true, kWriteBack};
    if (!enabled) return {true, kUncacheable};
    const uint64_t start = pa.value();
    if (!fixed_in_force() || start >= kFixedEnd) return variable_span_type(*this, start, size);
    if (size <= kFixedEnd) return fixed_span_type(*this, start, start + size);
    // A span larger than the first MiB that overlaps it starts at 0: the fixed
    // ranges, then [1 MiB, 2 MiB), [2 MiB, 4 MiB), ... up to its end, each an
    // aligned block for the variable ranges.
    const SpanType low = fixed_span_type(*this, 0, kFixedEnd);
    if (!low.uniform) return low;
    for (uint64_t block = kFixedEnd; block < size; block *= 2) {
        const SpanType above = variable_span_type(*this, block, block);
        if (!above.uniform || above.type != low.type) return {false, low.type};
    }
    return low;
}

PageSize largest_uniform_page(const MtrrState& mtrrs, PhysAddr pa, PageSize largest) {
    for (PageSize size = largest; size != PageSize::k4KiB; size = next_smaller(size))
        if (pa.is_aligned(bytes(size)) && mtrrs.span_type(pa, bytes(size)).uniform) return size;
    return PageSize::k4KiB;
}

void read_mtrrs(MsrReader& msrs, MtrrCpuid cpuid, MtrrState* out) {
    // Field by field, not `*out = MtrrState{}`: no 6 KiB temporary on a kernel stack.
    out->present = out->enabled = out->fixed_supported = out->fixed_enabled = false;
    out->default_type = kUncacheable;
    out->variable_slots = 0;
    out->variable_count = 0;
    for (uint8_t& type : out->fixed) type = kUncacheable;
    const unsigned bits = cpuid.physical_address_bits;
    out->physical_address_bits = bits < 36 ? 36 : bits > 52 ? 52 : bits;
    if (!cpuid.has_mtrr) return;
    out->present = true;
    const uint64_t cap = msrs.read(mtrr_msr::kCap);
    const uint64_t def = msrs.read(mtrr_msr::kDefType);
    out->variable_slots = uint8_t(cap & 0xFF);
    out->fixed_supported = (cap & (1u << 8)) != 0;
    out->default_type = uint8_t(def & 0xFF);
    out->enabled = (def & (1u << 11)) != 0;
    out->fixed_enabled = out->fixed_supported && (def & (1u << 10)) != 0;

    const uint64_t addresses = address_mask(out->physical_address_bits);
    for (unsigned n = 0; n < out->variable_slots; ++n) {
        const uint64_t base = msrs.read(mtrr_msr::kPhysBase0 + 2 * n);
        const uint64_t mask = msrs.read(mtrr_msr::kPhysMask0 + 2 * n);
        if ((mask & (1u << 11)) == 0) continue;  // PHYSMASK.V clear: the pair is unused
        out->variable[out->variable_count++] = {base & addresses, mask & addresses, uint8_t(base & 0xFF), uint8_t(n)};
    }

    if (!out->fixed_supported) return;  // the fixed-range MSRs do not exist
    uint32_t fixed_msrs[11] = {mtrr_msr::kFix64K00000, mtrr_msr::kFix16K80000, mtrr_msr::kFix16KA0000};
    for (unsigned i = 0; i < 8; ++i) fixed_msrs[3 + i] = mtrr_msr::kFix4KC0000 + i;
    size_t index = 0;
    for (uint32_t msr : fixed_msrs) {
        const uint64_t types = msrs.read(msr);
        for (unsigned byte = 0; byte < 8; ++byte) out->fixed[index++] = uint8_t(types >> (8 * byte));
    }
}

void log_mtrrs(const MtrrState& m) {
    if (!m.present) {
        klog::info("mtrr").msg("read").kv("present", false).kv("phys-bits", uint64_t(m.physical_address_bits));
        return;
    }
    klog::info("mtrr").msg("read").kv("present", true).kv("enabled", m.enabled)
        .kv("default", mtrr_type_name(m.default_type)).kv("variable-ranges", uint64_t(m.variable_count))
        .kv("variable-slots", uint64_t(m.variable_slots))
        .kv("fixed", m.fixed_enabled ? "enabled" : m.fixed_supported ? "disabled" : "unsupported")
        .kv("phys-bits", uint64_t(m.physical_address_bits));
    for (size_t i = 0; i < m.variable_count; ++i) {
        const MtrrVariableRange& r = m.variable[i];
        if (r.contiguous(m.physical_address_bits))
            klog::info("mtrr").msg("variable").kv("index", uint64_t(r.index)).kv("base", klog::hex(r.base))
                .kv("mask", klog::hex(r.mask)).kv("size", klog::size(r.size(m.physical_address_bits)))
                .kv("type", mtrr_type_name(r.type));
        else
            klog::info("mtrr").msg("variable").kv("index", uint64_t(r.index)).kv("base", klog::hex(r.base))
                .kv("mask", klog::hex(r.mask)).kv("size", "non-contiguous").kv("type", mtrr_type_name(r.type));
    }
    if (!m.fixed_supported) return;
    for (size_t i = 0; i < MtrrState::kFixedRanges;) {
        size_t j = i + 1;
        while (j < MtrrState::kFixedRanges && m.fixed[j] == m.fixed[i]) ++j;
        const uint64_t end = j < MtrrState::kFixedRanges ? mtrr_fixed_start(j) : MtrrState::kFixedEnd;
        klog::info("mtrr").msg("fixed").kv("start", klog::hex(mtrr_fixed_start(i))).kv("end", klog::hex(end))
            .kv("type", mtrr_type_name(m.fixed[i]));
        i = j;
    }
}

}  // namespace mm
