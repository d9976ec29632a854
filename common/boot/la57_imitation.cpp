#include "boot/la57_imitation.h"

#include "arch/x86/cpu.h"
#include "boot/firmware_memory.h"
#include "boot/loader_log.h"
#include "boot/paging_mode.h"
#include "arch/x86/paging_bits.h"

namespace boot {

La57Imitation prepare_la57_imitation(EFI_HANDLE image) {
    if (!x86::cpu_has_la57()) {
        klog::error("loader").msg("test hook refused").kv("field", "loader.test-la57").kv("value", "cpu-la57=no").kv(
            "rule", "needs a CPU with LA57 (CPUID.(EAX=07H,ECX=0):ECX[16]), e.g. -cpu max,+la57");
        loader_fail(image, EFI_UNSUPPORTED);
    }
    const uint64_t pml5 = allocate_loader_pages(image, EfiMemoryType::kBootPageTables, 1, "la57 imitation pml5",
                                                kBelow4GiB);
    return {pml5};
}

void apply_la57_imitation(const La57Imitation& imitation, const HandoverTrampoline& trampoline) {
    const uint64_t firmware_pml4 = x86::read_cr3() & x86::pte::kAddressMask;
    *reinterpret_cast<uint64_t*>(imitation.pml5) = firmware_pml4 | x86::pte::kPresent | x86::pte::kWritable;
    switch_paging(trampoline, imitation.pml5, /*la57=*/true);
    klog::info("loader").msg("imitating 5-level firmware").kv("cr4-la57", paging_levels(x86::read_cr4()) == 5)
        .kv("pml5", klog::hex(imitation.pml5)).kv("firmware-pml4", klog::hex(firmware_pml4));
}

}  // namespace boot
