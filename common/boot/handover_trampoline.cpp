#include "boot/handover_trampoline.h"

#include <stddef.h>

#include "arch/x86/cpu.h"
#include "boot/handover_trampoline_layout.h"
#include "boot/firmware_memory.h"
#include "boot/loader_log.h"
#include "boot/memory_attributes.h"
#include "support/units.h"

extern "C" {
// handover_trampoline_code.S, in the loader's text; copied into the page.
[[gnu::visibility("hidden")]] extern const uint8_t handover_trampoline_code[];
[[gnu::visibility("hidden")]] extern const uint8_t handover_trampoline_long_mode[];
[[gnu::visibility("hidden")]] extern const uint8_t handover_trampoline_code_end[];
}

namespace boot {
namespace {

struct [[gnu::packed]] TrampolineParams {
    uint16_t gdt_limit;
    uint64_t gdt_base;
    uint8_t padding0[6];
    uint32_t far64_offset;
    uint16_t far64_selector;
    uint8_t padding1[2];
    uint64_t top_table;
    uint64_t la57;  // 0 or CR4_LA57
    uint64_t entry;
    uint64_t stack_top;
    uint64_t argument;
    uint64_t saved_rsp;
    uint64_t saved_rbp;
};
static_assert(offsetof(TrampolineParams, gdt_limit) == PARAM_GDTR);
static_assert(offsetof(TrampolineParams, far64_offset) == PARAM_FAR64);
static_assert(offsetof(TrampolineParams, top_table) == PARAM_TOP_TABLE);
static_assert(offsetof(TrampolineParams, la57) == PARAM_LA57);
static_assert(offsetof(TrampolineParams, entry) == PARAM_ENTRY);
static_assert(offsetof(TrampolineParams, stack_top) == PARAM_STACK_TOP);
static_assert(offsetof(TrampolineParams, argument) == PARAM_ARGUMENT);
static_assert(offsetof(TrampolineParams, saved_rsp) == PARAM_SAVED_RSP);
static_assert(offsetof(TrampolineParams, saved_rbp) == PARAM_SAVED_RBP);
static_assert(CR4_LA57 == x86::kCr4La57 && CR4_PGE == x86::kCr4Pge && CR0_PG == x86::kCr0Paging);

// Flat segments, accessed bits already set, so loading a selector never
// writes the GDT (SDM Vol. 3A, 3.4.5 "Segment Descriptors").
constexpr uint64_t kGdt[] = {
    0,
    0x00af'9b00'0000'ffffull,  // TRAMPOLINE_CODE64_SELECTOR: L=1, present, ring 0, execute/read, accessed
    0x00cf'9b00'0000'ffffull,  // TRAMPOLINE_CODE32_SELECTOR: D=1, 4 GiB limit
    0x00cf'9300'0000'ffffull,  // TRAMPOLINE_DATA_SELECTOR: read/write, 4 GiB limit
};
static_assert(TRAMPOLINE_CODE64_SELECTOR == 1 * 8 && TRAMPOLINE_CODE32_SELECTOR == 2 * 8 &&
              TRAMPOLINE_DATA_SELECTOR == 3 * 8);
static_assert(TRAMPOLINE_GDT + sizeof(kGdt) <= TRAMPOLINE_PARAMS);
constexpr uint64_t kCodeRoom = kPageSize - TRAMPOLINE_CODE;
static_assert(TRAMPOLINE_PARAMS + sizeof(TrampolineParams) <= kPageSize);

TrampolineParams& params_of(const HandoverTrampoline& trampoline) {
    return *reinterpret_cast<TrampolineParams*>(trampoline.data_page + TRAMPOLINE_PARAMS);
}

// Into the page's code with RDI = its parameters. It returns only when
// `entry` is 0; every register but RSP and RBP may come back changed.
void run(const HandoverTrampoline& trampoline) {
    TrampolineParams* params = &params_of(trampoline);
    asm volatile("call *%1"
                 : "+D"(params)
                 : "r"(trampoline.page + TRAMPOLINE_CODE)
                 : "rax", "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory",
                   "cc");
}

}  // namespace

HandoverTrampoline install_handover_trampoline(EFI_HANDLE image) {
    const uint64_t code_size = uint64_t(handover_trampoline_code_end - handover_trampoline_code);
    if (code_size > kCodeRoom) {  // a build that outgrew its page: never boot with it
        klog::error("loader").msg("handover trampoline rejected").kv("field", "code-size").kv("value", code_size).kv(
            "rule", "must fit one page (handover_trampoline_layout.h)");
        loader_fail(image, EFI_LOAD_ERROR);
    }
    const uint64_t page =
        allocate_loader_pages(image, EfiMemoryType::kLoaderCode, 1, "handover trampoline", kBelow4GiB);
    const uint64_t data_page =
        allocate_loader_pages(image, EfiMemoryType::kBootPageTables, 1, "handover trampoline data", kBelow4GiB);
    const HandoverTrampoline trampoline{page, data_page};
    CopyMem(reinterpret_cast<void*>(page + TRAMPOLINE_CODE), handover_trampoline_code, code_size);
    const PageProtection protection = make_page_read_only_executable(image, page, "handover trampoline");
    CopyMem(reinterpret_cast<void*>(data_page + TRAMPOLINE_GDT), kGdt, sizeof(kGdt));
    TrampolineParams& params = params_of(trampoline);
    params.gdt_limit = sizeof(kGdt) - 1;
    params.gdt_base = data_page + TRAMPOLINE_GDT;
    params.far64_offset = uint32_t(page + TRAMPOLINE_CODE + (handover_trampoline_long_mode - handover_trampoline_code));
    params.far64_selector = TRAMPOLINE_CODE64_SELECTOR;
    klog::info("loader").msg("handover trampoline").kv("pa", klog::hex(page)).kv("data", klog::hex(data_page))
        .kv("code-bytes", code_size).kv("protection", protection_name(protection));
    return trampoline;
}

void switch_paging(const HandoverTrampoline& trampoline, uint64_t top_table, bool la57) {
    TrampolineParams& params = params_of(trampoline);
    params.top_table = top_table;
    params.la57 = la57 ? CR4_LA57 : 0;
    params.entry = 0;
    run(trampoline);
}

void jump_through(const HandoverTrampoline& trampoline, uint64_t top_table, bool la57, uint64_t stack_top, uint64_t entry,
                  const BootHandoff* handoff) {
    TrampolineParams& params = params_of(trampoline);
    params.top_table = top_table;
    params.la57 = la57 ? CR4_LA57 : 0;
    params.entry = entry;
    params.stack_top = stack_top - 8;
    params.argument = reinterpret_cast<uint64_t>(handoff);
    run(trampoline);
    __builtin_unreachable();
}

}  // namespace boot
