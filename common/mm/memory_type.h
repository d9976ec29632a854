// Memory types by meaning, the PAT value that makes them available, and the
// one function that turns a memory type into the PWT/PCD/PAT bits of a leaf.
//
// A leaf entry does not name its memory type directly. Its three bits PAT,
// PCD and PWT form a 3-bit index, PAT*4 + PCD*2 + PWT, into the eight entries
// PA0..PA7 of the IA32_PAT MSR, and the entry found there is the type (SDM
// Vol. 3A, 11.12.3 "Selecting a Memory Type from the PAT", Table 11-11):
//
//   PAT PCD PWT   entry   power-on   ours (kPatValue)   used for
//    0   0   0    PA0     WB         WB                 normal memory
//    0   0   1    PA1     WT         WT                 -
//    0   1   0    PA2     UC-        UC-                -
//    0   1   1    PA3     UC         UC                 device registers
//    1   0   0    PA4     WB         WC                 the framebuffer
//    1   0   1    PA5     WT         WT                 -
//    1   1   0    PA6     UC-        UC-                -
//    1   1   1    PA7     UC         UC                 -
//
// PA0..PA3 keep their power-on values, so every mapping the firmware and the
// loader made (which never set the PAT bit) means what it meant; only PA4,
// which nothing used, changes. The PAT bit is bit 7 of a 4 KiB PTE but bit 12
// of a 2 MiB or 1 GiB leaf (bit 7 is PS there): which is why the translation
// takes the page size.
#pragma once

#include <stdint.h>

#include "arch/x86/cpu.h"
#include "arch/x86/paging_bits.h"
#include "mm/memory_type_change.h"
#include "mm/page_size.h"

namespace mm {

// What the memory is, not how it is cached: the mapping code states the
// meaning and cache_bits() picks the PAT entry.
enum class MemoryType : uint8_t {
    kNormal,          // RAM: write-back (WB), the only type for code and data
    kWriteCombining,  // a framebuffer: writes gathered into bursts, never read-cached (WC)
    kDevice,          // device registers: every access reaches the device, in order (UC)
};

constexpr const char* name(MemoryType type) {
    switch (type) {
        case MemoryType::kNormal: return "WB";
        case MemoryType::kWriteCombining: return "WC";
        case MemoryType::kDevice: return "UC";
    }
    return "?";
}

// Encodings of a PAT entry (SDM Vol. 3A, 11.12.2, Table 11-10).
namespace pat {
inline constexpr uint8_t kUncacheable = 0x00;       // UC
inline constexpr uint8_t kWriteCombining = 0x01;    // WC
inline constexpr uint8_t kWriteThrough = 0x04;      // WT
inline constexpr uint8_t kWriteProtected = 0x05;    // WP
inline constexpr uint8_t kWriteBack = 0x06;         // WB
inline constexpr uint8_t kUncacheableMinus = 0x07;  // UC-: UC, unless an MTRR says WC

// The entry PA<index> of a PAT MSR value: byte `index`, of which the low 3 bits count.
constexpr uint8_t entry(uint64_t pat_value, unsigned index) { return uint8_t(pat_value >> (8 * index)) & 0x7; }
}  // namespace pat

// book:begin pat-value
// The value the kernel writes to IA32_PAT: one byte per entry, PA0 lowest.
// The power-on value is 0x0007040600070406 (SDM Vol. 3A, 11.12.4); only PA4
// differs, WB (0x06) -> WC (0x01).
inline constexpr uint64_t kPatValue = uint64_t(pat::kWriteBack) << 0            // PA0 WB   (power-on)
                                      | uint64_t(pat::kWriteThrough) << 8       // PA1 WT   (power-on)
                                      | uint64_t(pat::kUncacheableMinus) << 16  // PA2 UC-  (power-on)
                                      | uint64_t(pat::kUncacheable) << 24       // PA3 UC   (power-on)
                                      | uint64_t(pat::kWriteCombining) << 32    // PA4 WC   (power-on: WB)
                                      | uint64_t(pat::kWriteThrough) << 40      // PA5 WT   (power-on)
                                      | uint64_t(pat::kUncacheableMinus) << 48  // PA6 UC-  (power-on)
                                      | uint64_t(pat::kUncacheable) << 56;      // PA7 UC   (power-on)
inline constexpr uint64_t kPatPowerOnValue = 0x0007'0406'0007'0406ull;
// book:end pat-value

// book:begin cache-bits
// The PWT/PCD/PAT bits that give a leaf of `size` the memory type `type`
// under kPatValue: the one place a memory type becomes page-table bits.
constexpr uint64_t cache_bits(MemoryType type, PageSize size) {
    namespace pte = x86::pte;
    switch (type) {
        case MemoryType::kNormal: return 0;                                      // PA0: WB
        case MemoryType::kDevice: return pte::kCacheDisable | pte::kWriteThrough;  // PA3: UC
        case MemoryType::kWriteCombining:                                          // PA4: WC
            return size == PageSize::k4KiB ? pte::kPat4K : pte::kPatHuge;
    }
    return pte::kCacheDisable | pte::kWriteThrough;  // unreachable; UC is the safe guess
}
// book:end cache-bits

// Every cache bit a leaf of any size may carry: mapping policies leave these
// to cache_bits().
inline constexpr uint64_t kCacheBitsMask =
    x86::pte::kWriteThrough | x86::pte::kCacheDisable | x86::pte::kPat4K | x86::pte::kPatHuge;

// The PAT index (0..7) a leaf of `size` with `flags` selects: how the CPU
// reads the bits back, for checking cache_bits() against kPatValue.
constexpr unsigned pat_index(uint64_t flags, PageSize size) {
    const uint64_t pat_bit = size == PageSize::k4KiB ? x86::pte::kPat4K : x86::pte::kPatHuge;
    return ((flags & pat_bit) ? 4u : 0u) | ((flags & x86::pte::kCacheDisable) ? 2u : 0u) |
           ((flags & x86::pte::kWriteThrough) ? 1u : 0u);
}

// The memory type a leaf really gets under kPatValue, for every type and size.
constexpr uint8_t pat_encoding(MemoryType type, PageSize size) {
    return pat::entry(kPatValue, pat_index(cache_bits(type, size), size));
}
static_assert(pat_encoding(MemoryType::kNormal, PageSize::k4KiB) == pat::kWriteBack);
static_assert(pat_encoding(MemoryType::kNormal, PageSize::k1GiB) == pat::kWriteBack);
static_assert(pat_encoding(MemoryType::kDevice, PageSize::k4KiB) == pat::kUncacheable);
static_assert(pat_encoding(MemoryType::kDevice, PageSize::k2MiB) == pat::kUncacheable);
static_assert(pat_encoding(MemoryType::kWriteCombining, PageSize::k4KiB) == pat::kWriteCombining);
static_assert(pat_encoding(MemoryType::kWriteCombining, PageSize::k2MiB) == pat::kWriteCombining);
static_assert(pat_encoding(MemoryType::kWriteCombining, PageSize::k1GiB) == pat::kWriteCombining);
// PA0..PA3 unchanged: what the firmware's and the loader's entries select keeps its meaning.
static_assert((kPatValue & 0xFFFF'FFFF) == (kPatPowerOnValue & 0xFFFF'FFFF));
static_assert(kPatValue == 0x0007'0401'0007'0406ull);

// ---- kernel only: the MSR itself -------------------------------------------

// CPUID.01H:EDX.PAT[bit 16]. Every x86_64 CPU has it; the kernel still asks.
inline bool cpu_has_pat() { return (x86::cpuid(1).edx & (1u << 16)) != 0; }

// book:begin program-pat
// Loads kPatValue into IA32_PAT by the SDM's procedure for changing memory
// types (memory_type_change.h: 11.12.4 points to 11.11.8's steps): caches in
// no-fill mode and written back, every translation flushed, global ones by
// clearing CR4.PGE, before and after the WRMSR. No live entry selects PA4 yet
// (the kernel's tables never set a PAT bit before this), but lines and
// translations cached under the old value must not outlive it all the same.
inline void program_pat() {
    X86CacheControl cpu;
    change_memory_types(cpu, [] { x86::wrmsr(x86::kMsrPat, kPatValue); });
}
// book:end program-pat

}  // namespace mm
