// Test hook `loader.test-la57`: the loader plays a firmware that left
// 5-level paging on, so a boot under QEMU takes the handover trampoline's
// way out of it (handover_trampoline.h). Debian bookworm's OVMF (2022.11)
// never hands over with CR4.LA57 set, even on a CPU that has it; firmware
// that does exists.
//
// After ExitBootServices, when no firmware code runs any more, the loader
// turns LA57 on over the firmware's own mappings: a PML5 whose first entry is
// the firmware's PML4 maps the lower 256 TiB exactly as before. From there
// the handover is the one a 5-level firmware would see.
#pragma once

#include <stdint.h>

#include "boot/efi.h"
#include "boot/handover_trampoline.h"

namespace boot {

struct La57Imitation {
    uint64_t pml5 = 0;  // 0: not asked for
};

// Before ExitBootServices: takes the PML5's page (below 4 GiB, with the
// bootstrap tables' memory type). Fails the boot by name on a CPU without LA57.
La57Imitation prepare_la57_imitation(EFI_HANDLE image);

// After ExitBootServices: 5-level paging on, over the same mappings.
void apply_la57_imitation(const La57Imitation& imitation, const HandoverTrampoline& trampoline);

}  // namespace boot
