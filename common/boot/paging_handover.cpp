#include "boot/paging_handover.h"

#include "arch/x86/cpu.h"
#include "arch/x86/paging_bits.h"
#include "boot/firmware_memory.h"
#include "boot/kernel_note.h"
#include "boot/loader_log.h"
#include "boot/paging_mode.h"
#include "support/units.h"

namespace boot {

// book:begin paging-handover
PagingHandover choose_paging_handover(EFI_HANDLE image, CommandLine command_line, const BootstrapTables& tables,
                                      uint32_t kernel_levels) {
    const bool cpu_la57 = x86::cpu_has_la57();
    const bool kernel_follows_five = kernel_levels & kLevels5;  // its KernelBook note (boot/kernel_note.h)
    const PagingChoice choice =
        choose_paging_levels(command_line.has("paging"), command_line.value("paging"), kernel_follows_five, cpu_la57);
    if (!choice.rejected.empty()) {
        klog::error("loader").msg("command line rejected").kv("field", "paging").kv("value", choice.rejected)
            .kv("rule", "must be 4 or 5");
        loader_fail(image, EFI_INVALID_PARAMETER);
    }
    if (choice.levels == 4) {
        if (choice.asked != 0) {
            auto line = klog::info("loader");
            line.msg("paging").kv("levels", uint64_t(4)).kv("asked", uint64_t(choice.asked));
            if (choice.why != nullptr) line.kv("why", choice.why);
        }
        return {tables.pml4, false};
    }
    // Entries 0 and 511 name the same PML4: each 4-level address keeps its translation.
    const uint64_t pml5 = allocate_loader_pages(image, EfiMemoryType::kBootPageTables, 1, "bootstrap pml5", kBelow4GiB);
    auto* entries = reinterpret_cast<uint64_t*>(pml5);
    for (unsigned i = 0; i < 512; ++i) entries[i] = 0;
    const uint64_t entry = tables.pml4 | x86::pte::kPresent | x86::pte::kWritable;
    entries[x86::pte::pml5_index(0)] = entry;
    entries[x86::pte::pml5_index(0xFFFF'FFFF'8000'0000ull)] = entry;
    klog::info("loader").msg("paging").kv("levels", uint64_t(5)).kv("asked", uint64_t(5)).kv("cpu-la57", cpu_la57)
        .kv("top", klog::hex(pml5)).kv("pml4", klog::hex(tables.pml4));
    return {pml5, true};
}
// book:end paging-handover

}  // namespace boot
