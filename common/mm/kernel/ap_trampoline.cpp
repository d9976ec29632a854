#include "mm/kernel/ap_trampoline.h"

#include <initializer_list>

#include "arch/x86/cpu.h"
#include "arch/x86/paging_bits.h"
#include "kernel/early_cpu.h"
#include "kernel/panic.h"
#include "mm/kernel/address_space.h"
#include "mm/page_table_entry.h"
#include "mm/page_table_walker.h"
#include "mm/phys_window.h"
#include "support/log.h"

// book:begin trampoline-code
// The code the AP runs from its start-up page, assembled here and copied
// there. It is position-independent: real mode addresses through CS (the
// page's segment), the later modes through EBX (the page's physical
// address, computed first). Data lives at kData in the same page (the
// TrampolineData below), filled in by install/arm_trampoline().
asm(R"(
    .set TRAMPOLINE_DATA, 0xF00
    .set GDTR, TRAMPOLINE_DATA + 0x20
    .set FAR32, TRAMPOLINE_DATA + 0x28
    .set FAR64, TRAMPOLINE_DATA + 0x30
    .set ROOT, TRAMPOLINE_DATA + 0x38
    .set STAGE, TRAMPOLINE_DATA + 0x3C
    .set ENTRY, TRAMPOLINE_DATA + 0x40
    .set STACK, TRAMPOLINE_DATA + 0x48
    .set PERCPU, TRAMPOLINE_DATA + 0x50
    .set CR4BITS, TRAMPOLINE_DATA + 0x58

    .section .rodata.smp_trampoline, "a", @progbits
    .balign 16
    .global smp_trampoline_start, smp_trampoline_protected, smp_trampoline_long, smp_trampoline_end
    .code16
smp_trampoline_start:
    cli
    cld
    xor %ebx, %ebx
    mov %cs, %bx
    shl $4, %ebx                    /* EBX = the page's physical address, kept to the end */
    mov %cs, %ax
    mov %ax, %ds
    movl $1, STAGE
    lgdtl GDTR
    mov %cr0, %eax
    and $0x9FFFFFFF, %eax           /* CD and NW off: INIT left the caches disabled */
    or $1, %eax                     /* PE */
    mov %eax, %cr0
    ljmpl *FAR32                    /* selector 0x08: 32-bit code */

    .code32
    /* book:begin trampoline-la57 */
smp_trampoline_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    movl $2, STAGE(%ebx)
    mov %cr4, %eax
    or CR4BITS(%ebx), %eax          /* PAE, and LA57 at five levels: paging is off, so LA57 may change */
    mov %eax, %cr4
    mov ROOT(%ebx), %eax
    mov %eax, %cr3                  /* 32 bits: hence a PML4 (or PML5) below 4 GiB */
    mov $0xC0000080, %ecx           /* IA32_EFER */
    rdmsr
    or $0x900, %eax                 /* LME (bit 8), NXE (bit 11): the tables use NX */
    wrmsr
    mov $0x80010033, %eax           /* PG, WP, NE, ET, MP, PE */
    mov %eax, %cr0
    ljmp *FAR64(%ebx)               /* selector 0x18: 64-bit code */
    /* book:end trampoline-la57 */

    .code64
smp_trampoline_long:
    mov %ebx, %ebx                  /* zero-extend: upper halves are undefined after the switch */
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %ss
    mov STACK(%rbx), %rsp
    mov PERCPU(%rbx), %rdi
    mov ENTRY(%rbx), %rax
    xor %ebp, %ebp
    pushq $0                        /* a return address nobody uses: RSP is 8 mod 16 at a call's entry (ABI) */
    jmp *%rax                       /* ap_entry(PerCpu*), in the higher half */
smp_trampoline_end:
    .text
)");
// book:end trampoline-code

extern "C" const uint8_t smp_trampoline_start[], smp_trampoline_protected[], smp_trampoline_long[],
    smp_trampoline_end[];
extern "C" [[noreturn]] void ap_entry(void* per_cpu);  // cpu_startup.cpp

namespace mm {
namespace {

constexpr uint64_t kData = 0xF00;

// The page's data, at kData (the offsets the code above names).
struct [[gnu::packed]] TrampolineData {
    uint64_t gdt[4];        // null, 32-bit code (0x08), data (0x10), 64-bit code (0x18)
    uint16_t gdtr_limit;    // 0x20
    uint32_t gdtr_base;     // 0x22
    uint16_t pad0;
    uint32_t far32_offset;  // 0x28
    uint16_t far32_selector;
    uint16_t pad1;
    uint32_t far64_offset;  // 0x30
    uint16_t far64_selector;
    uint16_t pad2;
    uint32_t root;          // 0x38: the PML4, or the PML5 at five levels
    uint32_t stage;         // 0x3C
    uint64_t entry;         // 0x40
    uint64_t stack;         // 0x48
    uint64_t per_cpu;       // 0x50
    uint32_t cr4_bits;      // 0x58: what the 32-bit code sets in CR4 before CR0.PG
};
static_assert(__builtin_offsetof(TrampolineData, gdtr_limit) == 0x20 && __builtin_offsetof(TrampolineData, far32_offset) == 0x28);
static_assert(__builtin_offsetof(TrampolineData, far64_offset) == 0x30 && __builtin_offsetof(TrampolineData, root) == 0x38);
static_assert(__builtin_offsetof(TrampolineData, stage) == 0x3C && __builtin_offsetof(TrampolineData, per_cpu) == 0x50);
static_assert(__builtin_offsetof(TrampolineData, cr4_bits) == 0x58);
static_assert(kData + sizeof(TrampolineData) <= kPageSize);

// Flat 4 GiB segments (SDM Vol. 3A, 3.4.5): 32-bit code, data, 64-bit code.
constexpr uint64_t kCode32 = 0x00CF'9B00'0000'FFFFull, kData32 = 0x00CF'9300'0000'FFFFull;

TrampolineData& data(const Trampoline& t) { return *phys_to_pointer<TrampolineData>(t.page + kData); }

PageTable& table(PhysAddr frame) { return *phys_to_pointer<PageTable>(frame); }

constexpr uint64_t kTableFlags = x86::pte::kPresent | x86::pte::kWritable;

// What CR3 holds on the AP from CR0.PG until ap_entry loads the kernel's.
PhysAddr trampoline_root(const Trampoline& t) { return t.depth == PagingDepth::kFiveLevel ? t.pml5 : t.pml4; }

}  // namespace

// book:begin reserve-trampoline
Trampoline reserve_trampoline(BootIntake& intake) {
    Trampoline t;
    t.depth = running_paging_depth();  // five levels (chapter 16): the AP needs a PML5 too
    const bool five = t.depth == PagingDepth::kFiveLevel;
    const MemoryRangeList& ranges = intake.memory.ranges;
    for (size_t i = 0; i < ranges.count(); ++i) {  // the highest usable page below 1 MiB, never page 0
        const MemoryRange& r = ranges[i];
        if (r.kind != RangeKind::kUsable || r.start >= PhysAddr(1 * MiB)) continue;
        const uint64_t end = (r.end < PhysAddr(1 * MiB) ? r.end.value() : 1 * MiB) & ~(kPageSize - 1);
        const uint64_t start = (r.start.value() + kPageSize - 1) & ~(kPageSize - 1);
        if (end > start && end - kPageSize >= kPageSize && end - kPageSize > t.page.value()) t.page = PhysAddr(end - kPageSize);
    }
    if (t.page.is_null()) t.refusal = "needs a usable page below 1MiB";
    PhysAddr* tables[] = {&t.pml4, &t.pdpt, &t.pd, &t.pt, &t.pml5};
    for (PhysAddr* frame : tables) {
        if (t.refusal != nullptr || (frame == &t.pml5 && !five)) break;
        const FrameResult f = intake.frames.alloc_frame();
        if (!f.ok()) t.refusal = five ? "needs 5 frames from the boot allocator" : "needs 4 frames from the boot allocator";
        else *frame = f.frame();
    }
    if (t.refusal == nullptr && trampoline_root(t).value() + kPageSize > (uint64_t(1) << 32))
        t.refusal = five ? "pml5 must lie below 4GiB" : "pml4 must lie below 4GiB";
    if (t.refusal != nullptr) {
        klog::warn("smp").msg("no trampoline").kv("rule", t.refusal);
        t.page = PhysAddr();
        return t;
    }
    auto line = klog::info("smp");
    line.msg("trampoline reserved").kv("page", klog::hex(t.page)).kv("pml4", klog::hex(t.pml4))
        .kv("page-from", "memory-map-below-1MiB").kv("tables-from", "boot-allocator").kv("levels", uint64_t(levels(t.depth)));
    if (five) line.kv("pml5", klog::hex(t.pml5));
    return t;
}
// book:end reserve-trampoline

void install_trampoline(const Trampoline& t, PhysAddr kernel_root) {
    KASSERT(running_paging_depth() == t.depth);  // the tables below are built for the depth reserved
    const uint64_t code_size = uint64_t(smp_trampoline_end - smp_trampoline_start);
    KASSERT(code_size <= kData);
    uint8_t* page = phys_to_pointer<uint8_t>(t.page);
    __builtin_memset(page, 0, kPageSize);
    __builtin_memcpy(page, smp_trampoline_start, code_size);

    TrampolineData& d = data(t);
    const uint32_t base = uint32_t(t.page.value());
    d.gdt[0] = 0, d.gdt[1] = kCode32, d.gdt[2] = kData32, d.gdt[3] = kernel::kCode64Descriptor;
    d.gdtr_limit = sizeof(d.gdt) - 1;
    d.gdtr_base = base + uint32_t(kData);
    d.far32_offset = base + uint32_t(smp_trampoline_protected - smp_trampoline_start);
    d.far32_selector = 0x08;
    d.far64_offset = base + uint32_t(smp_trampoline_long - smp_trampoline_start);
    d.far64_selector = 0x18;
    d.root = uint32_t(trampoline_root(t).value());
    d.cr4_bits = uint32_t(x86::kCr4Pae | (t.depth == PagingDepth::kFiveLevel ? x86::kCr4La57 : 0));
    d.entry = reinterpret_cast<uint64_t>(&ap_entry);

    // Slot 0: the one identity-mapped page, executable, read-only (the code
    // writes its stage through the page only before paging is on).
    // Slots 256-511 of the root: the kernel's entries, sharing its tables
    // one level down (its PDPTs, or its PML4s at five levels).
    for (PhysAddr frame : {t.pml4, t.pdpt, t.pd, t.pt})
        for (PageTableEntry& e : table(frame).entries) e = PageTableEntry();
    const uint64_t va = t.page.value();
    table(t.pml4).entries[x86::pte::pml4_index(va)] = PageTableEntry::from_raw(t.pdpt.value() | kTableFlags);
    table(t.pdpt).entries[x86::pte::pdpt_index(va)] = PageTableEntry::from_raw(t.pd.value() | kTableFlags);
    table(t.pd).entries[x86::pte::pd_index(va)] = PageTableEntry::from_raw(t.pt.value() | kTableFlags);
    table(t.pt).entries[x86::pte::pt_index(va)] = PageTableEntry::from_raw(t.page.value() | x86::pte::kPresent);
    // book:begin trampoline-pml5
    // Chapter 16: at five levels CR3 names a PML5. Its entry 0 leads to the
    // identity PML4 above (the page is below 2^48, so its PML5 index is 0),
    // its upper half is the kernel's PML5's, whose entries lead to its PML4s.
    if (t.depth == PagingDepth::kFiveLevel) {
        PageTable& pml5 = table(t.pml5);
        for (PageTableEntry& e : pml5.entries) e = PageTableEntry();
        pml5.entries[x86::pte::pml5_index(va)] = PageTableEntry::from_raw(t.pml4.value() | kTableFlags);
    }
    PageTable& root = table(trampoline_root(t));
    const PageTable& kernel = table(kernel_root);
    for (unsigned slot = 256; slot < 512; ++slot) root.entries[slot] = kernel.entries[slot];
    // book:end trampoline-pml5
    auto line = klog::info("smp");
    line.msg("trampoline installed").kv("page", klog::hex(t.page)).kv("code-bytes", code_size)
        .kv("sipi-vector", klog::hex(t.page.value() / kPageSize)).kv("pml4", klog::hex(t.pml4))
        .kv("identity", klog::hex(va)).kv("kernel-slots", uint64_t(256)).kv("levels", uint64_t(levels(t.depth)));
    if (t.depth == PagingDepth::kFiveLevel) line.kv("pml5", klog::hex(t.pml5)).kv("cr4-la57", true);
}

void arm_trampoline(const Trampoline& t, uint64_t stack_top, uint64_t per_cpu) {
    TrampolineData& d = data(t);
    d.stack = stack_top;
    d.per_cpu = per_cpu;
    __atomic_store_n(&d.stage, 0u, __ATOMIC_SEQ_CST);
}

uint32_t trampoline_stage(const Trampoline& t) { return __atomic_load_n(&data(t).stage, __ATOMIC_SEQ_CST); }


void retire_trampoline(const Trampoline& t) {
    // Checked by walks of the trampoline's own tables, as a CPU walks them:
    // before, the identity page is there, at itself (so the walk follows the
    // tables the APs used, root and all); after, it is gone (no AP may wake
    // on it later).
    PhysWindowMemory memory;
    PageTableWalker walker(trampoline_root(t), memory, t.depth);
    const VirtAddr page(t.page.value());
    const Lookup before = walker.translate(page);
    const bool mapped_before = before.present && before.leaf.pa == t.page;
    table(t.pt).entries[x86::pte::pt_index(t.page.value())] = PageTableEntry();
    const bool present = walker.translate(page).present;
    const bool ok = mapped_before && !present;
    klog::Line(ok ? klog::Level::kInfo : klog::Level::kError, "smp").msg("trampoline retired")
        .kv("page", klog::hex(t.page)).kv("identity-before", mapped_before ? "at-page" : "missing")
        .kv("identity", present ? "present" : "absent").kv("levels", uint64_t(levels(t.depth)));
    if (!ok) kernel::fail();
}

}  // namespace mm
