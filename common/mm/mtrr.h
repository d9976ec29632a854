// MTRRs: the memory types the firmware gave ranges of physical memory, and
// the rule that a large page must not span two of them.
//
// A page's memory type is the MTRRs' type for its physical address combined
// with the PAT's type for the page (SDM Vol. 3A, 11.5.2.2, Table 11-7). The
// MTRRs are the firmware's: a default type, up to 255 variable ranges (a base
// and a mask each), and 88 fixed ranges that cover the first MiB. OVMF leaves
// write-back (WB) as the default, makes 0xA0000-0xFFFFF uncached (UC) with the
// fixed ranges, and makes the 32-bit PCI hole UC with variable ranges.
//
// A TLB entry holds one memory type for its whole page, so a 2 MiB or 1 GiB
// page must not cover memory of two MTRR types: SDM Vol. 3A, 11.11.9 "Large
// Page Size Considerations" has such ranges mapped with 4 KiB pages, and what
// a CPU does with a large page that mixes types is not defined. So the
// page-size choice asks largest_uniform_page() too: the largest page at an
// address whose whole span has one MTRR type. 4 KiB pages always do: no MTRR
// boundary is finer than 4 KiB.
//
// Everything here is pure: the kernel reads the MSRs through an MsrReader
// (common/mm/kernel/cpu_paging_features.cpp), a test hands in its own values.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mm/memory_type.h"
#include "mm/page_size.h"
#include "mm/phys_addr.h"

namespace mm {

// The MSRs (SDM Vol. 3A, 11.11.1 and 11.11.2; Vol. 4, Table 2-2).
namespace mtrr_msr {
inline constexpr uint32_t kCap = 0xFE;       // IA32_MTRRCAP: VCNT[7:0], FIX[8], WC[10]
inline constexpr uint32_t kDefType = 0x2FF;  // IA32_MTRR_DEF_TYPE: type[7:0], FE[10], E[11]
inline constexpr uint32_t kPhysBase0 = 0x200;  // IA32_MTRR_PHYSBASEn = 0x200 + 2n: type[7:0], base[MAXPHYADDR-1:12]
inline constexpr uint32_t kPhysMask0 = 0x201;  // IA32_MTRR_PHYSMASKn = 0x201 + 2n: V[11], mask[MAXPHYADDR-1:12]
inline constexpr uint32_t kFix64K00000 = 0x250;  // 8 x 64 KiB from 0
inline constexpr uint32_t kFix16K80000 = 0x258;  // 8 x 16 KiB from 0x80000
inline constexpr uint32_t kFix16KA0000 = 0x259;  // 8 x 16 KiB from 0xA0000
inline constexpr uint32_t kFix4KC0000 = 0x268;   // 0x268..0x26F: 8 x 4 KiB each, from 0xC0000 to 1 MiB
}  // namespace mtrr_msr

// The types an MTRR holds (SDM Vol. 3A, Table 11-8): PAT's encodings
// (memory_type.h), less UC- (7), which an MTRR cannot hold.
namespace mtrr_type {
using pat::kUncacheable;
using pat::kWriteCombining;
using pat::kWriteThrough;
using pat::kWriteProtected;
using pat::kWriteBack;
// Not an encoding: where two variable ranges of types the SDM does not
// combine overlap (11.11.4.1: "the processor behavior is undefined").
inline constexpr uint8_t kUndefined = 0xFF;
}  // namespace mtrr_type

// "UC", "WC", "WT", "WP", "WB", "undefined", or "reserved" for another value.
const char* mtrr_type_name(uint8_t type);

// One valid variable range: the addresses `a` with (a & mask) == (base & mask).
struct MtrrVariableRange {
    uint64_t base;  // PHYSBASE bits 12..MAXPHYADDR-1
    uint64_t mask;  // PHYSMASK bits 12..MAXPHYADDR-1
    uint8_t type;
    uint8_t index;  // n of its PHYSBASEn/PHYSMASKn pair

    // A mask whose set bits are all above its clear ones covers one
    // contiguous, naturally aligned block of size() bytes (every range a
    // firmware sets up is one; the SDM allows others).
    bool contiguous(unsigned physical_address_bits) const;
    uint64_t size(unsigned physical_address_bits) const;  // of a contiguous range
};

// The type of one aligned span, when it has one.
struct SpanType {
    bool uniform;  // every byte of the span has `type`
    uint8_t type;
};

// The MTRRs as read: what the CPU has and what the firmware set.
struct MtrrState {
    static constexpr size_t kMaxVariable = 255;  // VCNT is 8 bits
    static constexpr size_t kFixedRanges = 88;   // 8 + 16 + 64
    static constexpr uint64_t kFixedEnd = 0x10'0000;  // the fixed ranges cover [0, 1 MiB)

    bool present = false;        // CPUID.01H:EDX.MTRR[bit 12]: without it there are no MTRR MSRs
    bool enabled = false;        // IA32_MTRR_DEF_TYPE.E: off, all memory is UC
    bool fixed_supported = false;  // IA32_MTRRCAP.FIX
    bool fixed_enabled = false;  // IA32_MTRR_DEF_TYPE.FE (only read with FIX)
    uint8_t default_type = mtrr_type::kUncacheable;
    uint8_t variable_slots = 0;  // IA32_MTRRCAP.VCNT
    unsigned physical_address_bits = 36;  // MAXPHYADDR: where the masks end
    uint8_t fixed[kFixedRanges] = {};     // one type per fixed range, in address order
    size_t variable_count = 0;            // the valid ranges (PHYSMASK.V) among the slots
    MtrrVariableRange variable[kMaxVariable] = {};

    // Whether the fixed ranges decide the first MiB.
    bool fixed_in_force() const { return enabled && fixed_enabled; }

    // The MTRR type of the byte at `pa` (SDM Vol. 3A, 11.11.4.1 "MTRR
    // Precedences"). Without MTRRs every address has one type; it reads WB.
    uint8_t type_at(PhysAddr pa) const;

    // The type of [pa, pa + size), where size is a power of two of at least
    // 4 KiB and pa is aligned to it, when the whole span has one. Exact for
    // contiguous ranges; may answer "not uniform" for a span that only an odd
    // combination of non-contiguous ranges would make uniform, which costs
    // a smaller page and nothing else.
    SpanType span_type(PhysAddr pa, uint64_t size) const;
};

// The first address of fixed range `index` and its size (64, 16 or 4 KiB).
uint64_t mtrr_fixed_start(size_t index);
uint64_t mtrr_fixed_size(size_t index);

// The largest page, no larger than `largest`, whose span at `pa` has one
// MTRR type: the page-size rule of SDM Vol. 3A, 11.11.9. `pa` must be
// aligned to `largest`; 4 KiB always qualifies.
PageSize largest_uniform_page(const MtrrState& mtrrs, PhysAddr pa, PageSize largest);

// Where the kernel reads MSRs: x86::rdmsr in the kernel, a table in tests.
class MsrReader {
public:
    virtual uint64_t read(uint32_t msr) = 0;

protected:
    ~MsrReader() = default;
};

// What CPUID says about the MTRRs, which decides which MSRs exist.
struct MtrrCpuid {
    bool has_mtrr;                   // CPUID.01H:EDX.MTRR[bit 12]
    unsigned physical_address_bits;  // CPUID.80000008H:EAX[7:0], or 36 without that leaf
};

// Reads IA32_MTRRCAP, IA32_MTRR_DEF_TYPE, every PHYSBASEn/PHYSMASKn pair
// and, when IA32_MTRRCAP.FIX says they exist, the eleven fixed-range MSRs.
// Touches no MSR when CPUID has no MTRRs (reading one would fault).
void read_mtrrs(MsrReader& msrs, MtrrCpuid cpuid, MtrrState* out);

// The boot log's account of the MTRRs:
//   [INFO  mtrr] read present=yes enabled=yes default=WB variable-ranges=2 variable-slots=8 fixed=enabled phys-bits=40
//   [INFO  mtrr] variable index=0 base=0xb0000000 mask=0xff0000000 size=256MiB type=UC
//   [INFO  mtrr] fixed start=0x0 end=0xa0000 type=WB   (touching fixed ranges of one type merged)
void log_mtrrs(const MtrrState& mtrrs);

}  // namespace mm
