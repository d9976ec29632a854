// Control registers, MSRs and CPUID: thin wrappers, one instruction each.
// Register and bit names follow the Intel SDM so they can be looked up there.
#pragma once

#include <stdint.h>

namespace x86 {

// CR0 (SDM Vol. 3A, 2.5)
inline constexpr uint64_t kCr0WriteProtect = 1ull << 16;  // WP: supervisor writes honour read-only pages
inline constexpr uint64_t kCr0NotWriteThrough = 1ull << 29;  // NW: with CD, the caches' no-fill mode
inline constexpr uint64_t kCr0CacheDisable = 1ull << 30;     // CD
inline constexpr uint64_t kCr0Paging = 1ull << 31;        // PG
// CR4
inline constexpr uint64_t kCr4Pae = 1ull << 5;
inline constexpr uint64_t kCr4Pge = 1ull << 7;    // global pages: their translations survive a CR3 load
inline constexpr uint64_t kCr4La57 = 1ull << 12;  // 5-level paging (chapter 16): the root is a PML5
inline constexpr uint64_t kCr4Smep = 1ull << 20;
inline constexpr uint64_t kCr4Smap = 1ull << 21;

// RFLAGS
inline constexpr uint64_t kRflagsInterrupt = 1ull << 9;  // IF: maskable interrupts enabled

// IA32_EFER (SDM Vol. 3A, 2.2.1)
inline constexpr uint32_t kMsrEfer = 0xC0000080;
inline constexpr uint64_t kEferLongModeActive = 1ull << 10;  // LMA
inline constexpr uint64_t kEferNoExecute = 1ull << 11;       // NXE: makes the NX bit of page entries legal

// IA32_GS_BASE and IA32_KERNEL_GS_BASE (SDM Vol. 3A, 3.4.4; Vol. 2B, SWAPGS):
// GS's base as the CPU runs now, and the one SWAPGS trades it with.
inline constexpr uint32_t kMsrGsBase = 0xC000'0101;
inline constexpr uint32_t kMsrKernelGsBase = 0xC000'0102;

// IA32_PAT (SDM Vol. 3A, 11.12.2): eight memory types, selected by PAT/PCD/PWT of a leaf.
inline constexpr uint32_t kMsrPat = 0x277;
// IA32_APIC_BASE (SDM Vol. 3A, 10.4.4): where this CPU's local APIC registers are.
inline constexpr uint32_t kMsrApicBase = 0x1B;
inline constexpr uint64_t kApicBaseEnable = 1ull << 11;                 // EN: APIC global enable
inline constexpr uint64_t kApicBaseX2Apic = 1ull << 10;                 // EXTD: x2APIC mode (with EN)
inline constexpr uint64_t kApicBaseAddressMask = 0x000F'FFFF'FFFF'F000ull;  // bits 12..MAXPHYADDR-1
// In x2APIC mode the registers are MSRs, not memory (SDM Vol. 3A, 10.12.1.2):
// 0x800 + (xAPIC offset >> 4), so ID (0x20) is 0x802 and Version (0x30) 0x803.
inline constexpr uint32_t kMsrX2ApicId = 0x802;
inline constexpr uint32_t kMsrX2ApicVersion = 0x803;

struct [[nodiscard]] CpuidResult {
    uint32_t eax, ebx, ecx, edx;
};

inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

inline uint32_t cpuid_max_extended_leaf() { return cpuid(0x80000000).eax; }
inline uint32_t cpuid_max_basic_leaf() { return cpuid(0).eax; }

// CPUID.(EAX=07H,ECX=0):EBX.SMEP [bit 7] and .SMAP [bit 20], ECX.LA57 [bit 16].
inline bool cpu_has_smep() { return cpuid_max_basic_leaf() >= 7 && (cpuid(7).ebx & (1u << 7)); }
inline bool cpu_has_smap() { return cpuid_max_basic_leaf() >= 7 && (cpuid(7).ebx & (1u << 20)); }
inline bool cpu_has_la57() { return cpuid_max_basic_leaf() >= 7 && (cpuid(7).ecx & (1u << 16)); }

// CPUID.80000001H:EDX.NX [bit 20] and .Page1GB [bit 26].
inline bool cpu_has_nx() { return cpuid_max_extended_leaf() >= 0x80000001 && (cpuid(0x80000001).edx & (1u << 20)); }
inline bool cpu_has_1gb_pages() {
    return cpuid_max_extended_leaf() >= 0x80000001 && (cpuid(0x80000001).edx & (1u << 26));
}

inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t(hi) << 32) | lo;
}

inline void wrmsr(uint32_t msr, uint64_t value) {
    asm volatile("wrmsr" : : "c"(msr), "a"(uint32_t(value)), "d"(uint32_t(value >> 32)));
}

inline uint64_t read_cr0() { uint64_t v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
inline uint64_t read_cr2() { uint64_t v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
inline uint64_t read_rflags() { uint64_t v; asm volatile("pushfq; pop %0" : "=r"(v) : : "memory"); return v; }
inline uint64_t read_cr3() { uint64_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline uint64_t read_cr4() { uint64_t v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
inline void write_cr0(uint64_t v) { asm volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
inline void write_cr4(uint64_t v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
// Loading CR3 switches address spaces and flushes every non-global TLB entry
// (SDM Vol. 3A, 4.10.4.1). "memory": no access may move across the switch.
inline void write_cr3(uint64_t v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }

// Drops the global translations a CR3 load keeps: a CR4 write that changes
// PGE invalidates every TLB entry, global ones included (SDM Vol. 3A,
// 4.10.4.1). Our tables set no G bit, but firmware may leave CR4.PGE on with
// global entries of its own cached, and a CR3 load alone would keep them.
// True when PGE was on (and is again); with PGE off nothing is global.
inline bool drop_global_translations() {
    const uint64_t cr4 = read_cr4();
    if ((cr4 & kCr4Pge) == 0) return false;
    write_cr4(cr4 & ~kCr4Pge);
    write_cr4(cr4);
    return true;
}

inline void disable_interrupts() { asm volatile("cli" ::: "memory"); }

// Stops this CPU for good: interrupts off, then hlt in a loop (an NMI can still
// wake hlt, so one hlt is not enough).
[[noreturn]] inline void halt_forever() {
    for (;;) asm volatile("cli; hlt" ::: "memory");
}

}  // namespace x86
