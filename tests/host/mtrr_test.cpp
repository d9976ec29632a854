// The MTRRs (common/mm/mtrr.h): reading them through an MsrReader, the type
// of an address by the SDM's precedences, and the page-size rule that no
// large page spans two types.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "mm/mtrr.h"
#include "support/log.h"

using mm::MtrrState;
using mm::PageSize;
using mm::PhysAddr;
namespace type = mm::mtrr_type;

namespace {

constexpr uint64_t kValid = 1ull << 11;  // PHYSMASK.V

// MSR values by number; reading one that is not there fails the test, as
// reading a missing MSR faults on a CPU.
struct FakeMsrs final : mm::MsrReader {
    std::map<uint32_t, uint64_t> values;
    std::set<uint32_t> read_ones;

    uint64_t read(uint32_t msr) override {
        read_ones.insert(msr);
        const auto it = values.find(msr);
        EXPECT_NE(it, values.end()) << "rdmsr " << std::hex << msr << " would fault";
        return it == values.end() ? 0 : it->second;
    }
};

// What OVMF leaves on a q35 machine with little memory, as QEMU 7.2 reads it
// back: WB by default, fixed ranges on (0xA0000-0xFFFFF UC), the 32-bit PCI
// hole [2 GiB, 4 GiB) and the 64-bit PCI window [896 GiB, 1 TiB) UC.
FakeMsrs ovmf_q35() {
    FakeMsrs m;
    m.values[mm::mtrr_msr::kCap] = 0x508;         // VCNT=8, FIX, WC
    m.values[mm::mtrr_msr::kDefType] = 0xC06;     // E, FE, WB
    for (uint32_t n = 0; n < 8; ++n) m.values[0x200 + 2 * n] = m.values[0x201 + 2 * n] = 0;
    m.values[0x200] = 0x8000'0000 | type::kUncacheable;
    m.values[0x201] = 0xFF'8000'0000 | kValid;
    m.values[0x202] = 0xE0'0000'0000 | type::kUncacheable;
    m.values[0x203] = 0xE0'0000'0000 | kValid;
    m.values[0x250] = m.values[0x258] = 0x0606'0606'0606'0606;  // [0, 640 KiB) WB
    m.values[0x259] = 0;                                          // [640 KiB, 768 KiB) UC
    for (uint32_t msr = 0x268; msr <= 0x26F; ++msr) m.values[msr] = 0;  // [768 KiB, 1 MiB) UC
    return m;
}

MtrrState read(FakeMsrs& msrs, bool has_mtrr = true, unsigned bits = 40) {
    MtrrState state;
    mm::read_mtrrs(msrs, {has_mtrr, bits}, &state);
    return state;
}

// A state built by hand: enabled, `default_type`, no fixed ranges in force.
MtrrState state(uint8_t default_type, std::initializer_list<mm::MtrrVariableRange> ranges, unsigned bits = 40) {
    MtrrState s;
    s.present = s.enabled = true;
    s.default_type = default_type;
    s.physical_address_bits = bits;
    for (const mm::MtrrVariableRange& r : ranges) s.variable[s.variable_count++] = r;
    return s;
}

// A contiguous range [base, base + size): size a power of two, base aligned to it.
mm::MtrrVariableRange range(uint64_t base, uint64_t size, uint8_t t, unsigned bits = 40) {
    const uint64_t mask = ~(size - 1) & ((1ull << bits) - 1);
    return {base, mask, t, 0};
}

uint8_t type_at(const MtrrState& s, uint64_t pa) { return s.type_at(PhysAddr(pa)); }

PageSize largest(const MtrrState& s, uint64_t pa, PageSize max = PageSize::k1GiB) {
    return mm::largest_uniform_page(s, PhysAddr(pa), max);
}

}  // namespace

TEST(MtrrRead, DecodesWhatOvmfSets) {
    FakeMsrs msrs = ovmf_q35();
    const MtrrState s = read(msrs);
    EXPECT_TRUE(s.present && s.enabled && s.fixed_supported && s.fixed_enabled);
    EXPECT_EQ(s.default_type, type::kWriteBack);
    EXPECT_EQ(s.variable_slots, 8u);
    ASSERT_EQ(s.variable_count, 2u);  // the six pairs without PHYSMASK.V are not ranges
    EXPECT_EQ(s.variable[0].base, 0x8000'0000u);
    EXPECT_EQ(s.variable[0].size(40), 2 * GiB);
    EXPECT_EQ(s.variable[1].index, 1u);
    EXPECT_TRUE(s.variable[1].contiguous(40));
    // Every fixed-range MSR was read, and nothing beyond the slots VCNT names.
    for (uint32_t msr : {0x250u, 0x258u, 0x259u, 0x268u, 0x26Fu}) EXPECT_TRUE(msrs.read_ones.count(msr)) << msr;
    EXPECT_FALSE(msrs.read_ones.count(0x210));
    // The types, address by address.
    EXPECT_EQ(type_at(s, 0x0), type::kWriteBack);
    EXPECT_EQ(type_at(s, 0x9'F000), type::kWriteBack);
    EXPECT_EQ(type_at(s, 0xA'0000), type::kUncacheable);   // fixed: the legacy VGA hole
    EXPECT_EQ(type_at(s, 0xF'F000), type::kUncacheable);
    EXPECT_EQ(type_at(s, 0x10'0000), type::kWriteBack);    // the default, from 1 MiB on
    EXPECT_EQ(type_at(s, 0x7FFF'F000), type::kWriteBack);
    EXPECT_EQ(type_at(s, 0x8000'0000), type::kUncacheable);  // the 32-bit PCI hole
    EXPECT_EQ(type_at(s, 0xFFFF'F000), type::kUncacheable);
    EXPECT_EQ(type_at(s, 0x1'0000'0000), type::kWriteBack);  // RAM above 4 GiB
    EXPECT_EQ(type_at(s, 0xE0'0000'0000), type::kUncacheable);
}

TEST(MtrrRead, TouchesNoMsrWithoutCpuidMtrr) {
    FakeMsrs msrs;  // any read fails the test
    const MtrrState s = read(msrs, false);
    EXPECT_TRUE(msrs.read_ones.empty());
    EXPECT_FALSE(s.present);
    // No MTRRs: nothing to split a page for.
    EXPECT_EQ(largest(s, 0), PageSize::k1GiB);
    EXPECT_TRUE(s.span_type(PhysAddr(0), GiB).uniform);
}

TEST(MtrrRead, ReadsNoFixedRangeMsrWithoutFix) {
    FakeMsrs msrs = ovmf_q35();
    msrs.values[mm::mtrr_msr::kCap] = 0x8;  // VCNT=8, no FIX
    for (uint32_t msr : {0x250u, 0x258u, 0x259u, 0x268u, 0x269u, 0x26Au, 0x26Bu, 0x26Cu, 0x26Du, 0x26Eu, 0x26Fu})
        msrs.values.erase(msr);
    const MtrrState s = read(msrs);
    EXPECT_FALSE(s.fixed_supported);
    EXPECT_FALSE(s.fixed_enabled);  // DEF_TYPE.FE is set, but means nothing without FIX
    EXPECT_EQ(type_at(s, 0xA'0000), type::kWriteBack);  // the default then
}

TEST(MtrrRead, KeepsOnlyAddressBitsBelowMaxPhyAddr) {
    FakeMsrs msrs = ovmf_q35();
    msrs.values[0x200] = 0xFFF0'0000'4000'0000 | type::kWriteThrough;  // reserved bits above bit 39 set
    msrs.values[0x201] = 0xFFFF'FFFF'C000'0000 | kValid | 0x7FF;
    const MtrrState s = read(msrs, true, 40);
    EXPECT_EQ(s.variable[0].base, 0x4000'0000u);
    EXPECT_EQ(s.variable[0].mask, 0xFF'C000'0000u);
    EXPECT_EQ(s.variable[0].size(40), GiB);
    EXPECT_EQ(s.variable[0].type, type::kWriteThrough);
    EXPECT_EQ(read(msrs, true, 20).physical_address_bits, 36u);  // below the architectural minimum
}

TEST(MtrrType, FollowsTheSdmsPrecedences) {
    // Overlaps: UC wins, WT beats WB, WC with WB is undefined.
    const MtrrState s = state(type::kWriteBack, {range(0, 4 * MiB, type::kWriteBack), range(0, 2 * MiB, type::kUncacheable),
                                                 range(4 * MiB, 4 * MiB, type::kWriteBack),
                                                 range(4 * MiB, 2 * MiB, type::kWriteThrough),
                                                 range(8 * MiB, 2 * MiB, type::kWriteCombining),
                                                 range(8 * MiB, 8 * MiB, type::kWriteBack)});
    EXPECT_EQ(type_at(s, 0x1000), type::kUncacheable);
    EXPECT_EQ(type_at(s, 3 * MiB), type::kWriteBack);
    EXPECT_EQ(type_at(s, 5 * MiB), type::kWriteThrough);
    EXPECT_EQ(type_at(s, 9 * MiB), type::kUndefined);
    EXPECT_EQ(type_at(s, 11 * MiB), type::kWriteBack);
    EXPECT_EQ(type_at(s, 64 * MiB), type::kWriteBack);  // the default

    MtrrState off = s;
    off.enabled = false;  // MTRRs off: everything UC, one type
    EXPECT_EQ(type_at(off, 64 * MiB), type::kUncacheable);
    EXPECT_EQ(largest(off, 0), PageSize::k1GiB);
}

TEST(MtrrType, FixedRangesDecideTheFirstMiBOnlyWhenEnabled) {
    FakeMsrs msrs = ovmf_q35();
    MtrrState s = read(msrs);
    s.variable[s.variable_count++] = range(0, 2 * MiB, type::kWriteThrough);  // would say WT below 2 MiB
    EXPECT_EQ(type_at(s, 0x5'0000), type::kWriteBack);      // the fixed range wins below 1 MiB
    EXPECT_EQ(type_at(s, 0x10'0000), type::kWriteThrough);  // the variable one above
    s.fixed_enabled = false;
    EXPECT_EQ(type_at(s, 0x5'0000), type::kWriteThrough);
}

TEST(LargestUniformPage, AnMtrrBoundaryInsideA1GiBSpanSplitsItInto2MiBPages) {
    // UC [1.25 GiB, 1.5 GiB) inside the gigabyte [1 GiB, 2 GiB), default WB.
    const MtrrState s = state(type::kWriteBack, {range(0x5000'0000, 256 * MiB, type::kUncacheable)});
    EXPECT_EQ(largest(s, 1 * GiB), PageSize::k2MiB);
    EXPECT_EQ(largest(s, 0x5000'0000, PageSize::k2MiB), PageSize::k2MiB);  // inside: one type
    EXPECT_EQ(largest(s, 0x4FE0'0000, PageSize::k2MiB), PageSize::k2MiB);  // just below the boundary
    EXPECT_EQ(largest(s, 2 * GiB), PageSize::k1GiB);                        // the next gigabyte is all WB
    EXPECT_EQ(largest(s, 0), PageSize::k1GiB);
    // A type change exactly at a page's edge splits nothing.
    const MtrrState edge = state(type::kWriteBack, {range(1 * GiB, 1 * GiB, type::kUncacheable)});
    EXPECT_EQ(largest(edge, 0), PageSize::k1GiB);
    EXPECT_EQ(largest(edge, 1 * GiB), PageSize::k1GiB);
}

TEST(LargestUniformPage, AnMtrrBoundaryInsideA2MiBSpanSplitsItInto4KiBPages) {
    // One UC page at 1 GiB + 2 MiB + 4 KiB: its gigabyte takes 2 MiB pages, its 2 MiB block 4 KiB ones.
    const uint64_t page = 1 * GiB + 2 * MiB + 0x1000;
    const MtrrState s = state(type::kWriteBack, {range(page, 0x1000, type::kUncacheable)});
    EXPECT_EQ(largest(s, 1 * GiB), PageSize::k2MiB);
    EXPECT_EQ(largest(s, 1 * GiB + 2 * MiB, PageSize::k2MiB), PageSize::k4KiB);
    EXPECT_EQ(largest(s, 1 * GiB + 4 * MiB, PageSize::k2MiB), PageSize::k2MiB);
    EXPECT_EQ(largest(s, page, PageSize::k4KiB), PageSize::k4KiB);
    EXPECT_EQ(s.span_type(PhysAddr(page), 0x1000).type, type::kUncacheable);
}

TEST(LargestUniformPage, OverlapsThatLeaveTheTypeAloneSplitNothing) {
    // A WB range inside a WB default, and a UC range inside a UC one: still one type.
    const MtrrState s = state(type::kWriteBack, {range(0x4020'0000, 2 * MiB, type::kWriteBack),
                                                 range(2 * GiB, 1 * GiB, type::kUncacheable),
                                                 range(0x9000'0000, 2 * MiB, type::kUncacheable)});
    EXPECT_EQ(largest(s, 1 * GiB), PageSize::k1GiB);
    EXPECT_EQ(largest(s, 2 * GiB), PageSize::k1GiB);
    EXPECT_EQ(s.span_type(PhysAddr(2 * GiB), GiB).type, type::kUncacheable);
}

TEST(LargestUniformPage, TheFirstMiBTakesItsTypesFromTheFixedRanges) {
    FakeMsrs msrs = ovmf_q35();
    MtrrState s = read(msrs);
    EXPECT_EQ(largest(s, 0, PageSize::k2MiB), PageSize::k4KiB);  // WB below 640 KiB, UC above
    EXPECT_EQ(largest(s, 0), PageSize::k4KiB);
    EXPECT_EQ(largest(s, 2 * MiB, PageSize::k2MiB), PageSize::k2MiB);
    for (uint8_t& t : s.fixed) t = type::kWriteBack;  // all of the first MiB WB, like the default
    EXPECT_EQ(largest(s, 0), PageSize::k1GiB);
    s.variable[s.variable_count++] = range(3 * MiB, 1 * MiB, type::kWriteThrough);
    EXPECT_EQ(largest(s, 0), PageSize::k2MiB);  // [0, 2 MiB) is all WB; the gigabyte is not
    EXPECT_EQ(largest(s, 2 * MiB, PageSize::k2MiB), PageSize::k4KiB);
    for (uint8_t& t : s.fixed) t = type::kWriteThrough;  // the fixed ranges disagree with [1 MiB, 2 MiB)
    EXPECT_EQ(largest(s, 0), PageSize::k4KiB);
}

TEST(LargestUniformPage, NonContiguousMasksAreNeverTakenForUniform) {
    // Mask with bit 30 clear: the range is the 4 KiB at 0 and the 4 KiB at 1 GiB.
    const uint64_t mask = 0xFF'FFFF'F000ull & ~(1ull << 30);
    const MtrrState s = state(type::kWriteBack, {{0, mask, type::kUncacheable, 0}});
    EXPECT_FALSE(s.variable[0].contiguous(40));
    EXPECT_EQ(type_at(s, 0), type::kUncacheable);
    EXPECT_EQ(type_at(s, 1 * GiB), type::kUncacheable);
    EXPECT_EQ(type_at(s, 0x1000), type::kWriteBack);
    EXPECT_EQ(largest(s, 0), PageSize::k4KiB);
    EXPECT_EQ(largest(s, 1 * GiB), PageSize::k4KiB);
    EXPECT_EQ(largest(s, 2 * GiB), PageSize::k1GiB);
}

// The rule against a plain reading of the SDM, page by page: over many
// random MTRR sets, a span said to be uniform has that type at every 4 KiB
// page, and (with contiguous ranges, where the answer is exact) a span said
// not to be has two.
TEST(LargestUniformPage, AgreesWithThePageByPageTypesOfRandomMtrrs) {
    // SDM Vol. 3A, 11.11.4.1, as a set of the matching ranges' types.
    auto reference = [](const MtrrState& s, uint64_t pa) -> uint8_t {
        std::set<uint8_t> matching;
        for (size_t i = 0; i < s.variable_count; ++i)
            if ((pa & s.variable[i].mask) == (s.variable[i].base & s.variable[i].mask)) matching.insert(s.variable[i].type);
        if (matching.empty()) return s.default_type;
        if (matching.count(type::kUncacheable)) return type::kUncacheable;
        if (matching.size() == 1) return *matching.begin();
        if (matching == std::set<uint8_t>{type::kWriteThrough, type::kWriteBack}) return type::kWriteThrough;
        return type::kUndefined;
    };
    uint64_t seed = 12345;
    auto next = [&] { return (seed = seed * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
    const uint8_t types[] = {type::kUncacheable, type::kWriteCombining, type::kWriteThrough, type::kWriteBack};
    for (int round = 0; round < 60; ++round) {
        MtrrState s = state(types[next() % 4], {});
        const bool contiguous = round % 2 == 0;
        for (int i = 0, n = int(next() % 5); i < n; ++i) {
            const uint64_t size = 0x1000ull << (next() % 14);  // 4 KiB .. 32 MiB
            const uint64_t base = (next() % (64 * MiB / size)) * size;
            mm::MtrrVariableRange r = range(base, size, types[next() % 4]);
            if (!contiguous) r.mask &= ~(0x1000ull << (next() % 14));  // punch a hole in the mask
            r.base &= r.mask;
            s.variable[s.variable_count++] = r;
        }
        for (uint64_t size : {uint64_t(64 * KiB), 2 * MiB, 8 * MiB}) {
            for (uint64_t start = 0; start < 64 * MiB; start += size) {
                const mm::SpanType got = s.span_type(PhysAddr(start), size);
                bool same = true;
                const uint8_t first = reference(s, start);
                for (uint64_t pa = start; pa < start + size; pa += 0x1000) same = same && reference(s, pa) == first;
                if (got.uniform) {
                    ASSERT_TRUE(same) << "round " << round << " span " << std::hex << start << "+" << size;
                    ASSERT_EQ(got.type, first) << "round " << round << " span " << std::hex << start;
                } else if (contiguous) {
                    ASSERT_FALSE(same) << "round " << round << " span " << std::hex << start << "+" << size;
                }
            }
        }
    }
}

namespace {
std::string g_log;
void capture(klog::Level, const char* text, size_t length) { g_log.append(text, length); }
}  // namespace

TEST(MtrrLog, OneLineForWhatWasReadThenTheRangesAndTheFixedTypes) {
    FakeMsrs msrs = ovmf_q35();
    const MtrrState s = read(msrs);
    g_log.clear();
    klog::set_sink(capture);
    mm::log_mtrrs(s);
    MtrrState absent;
    mm::log_mtrrs(absent);
    klog::set_sink(nullptr);
    EXPECT_EQ(g_log,
              "[INFO  mtrr] read present=yes enabled=yes default=WB variable-ranges=2 variable-slots=8 fixed=enabled "
              "phys-bits=40\n"
              "[INFO  mtrr] variable index=0 base=0x80000000 mask=0xff80000000 size=2GiB type=UC\n"
              "[INFO  mtrr] variable index=1 base=0xe000000000 mask=0xe000000000 size=128GiB type=UC\n"
              "[INFO  mtrr] fixed start=0x0 end=0xa0000 type=WB\n"
              "[INFO  mtrr] fixed start=0xa0000 end=0x100000 type=UC\n"
              "[INFO  mtrr] read present=no phys-bits=36\n");
}
