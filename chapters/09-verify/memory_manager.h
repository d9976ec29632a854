// MemoryManager: chapter 07's address space, built by the same phases
// (chapter 08 adds none to the constructor: it leaves the lower half from
// kernel_main), and what this chapter adds: once it is complete, a walk over
// the live tables verifies it against what every phase meant to map, and
// prints it as merged ranges. A later chapter whose phases map more extends
// the expectations (expect_phases, expect_nothing_else), not verify().
#pragma once

#include "07-temporary-window/memory_manager.h"
#include "mm/address_space_layout.h"
#include "mm/kernel/address_space_verification.h"

namespace chapter09 {

class MemoryManager : public chapter07::MemoryManager {
public:
    using chapter07::MemoryManager::MemoryManager;

    // Checks each expected region and the rules for every entry (see
    // address_space_audit.h), logging one line per region, one for the audit
    // and one per finding. True when nothing broke a rule. Out of line, so
    // that `break MemoryManager::verify` in GDB has a function to stop in.
    [[gnu::noinline]] bool verify() {
        mm::ExpectedRegions expected;
        expect_phases(expected);
        expect_nothing_else(expected);
        return mm::verify_address_space(root(), tables(), expected, cpu(), depth());
    }

    // The address space as merged ranges, one `[INFO  layout] range` line each.
    void report() { mm::report_address_space(root(), tables(), handoff(), depth()); }

protected:
    // book:begin expected-regions
    // What the phases meant to map, with their guard pages: here what
    // chapters 04-08 mapped, the image, the window, the devices, the framebuffer.
    virtual void expect_phases(mm::ExpectedRegions& out) {
        mm::expect_mapped_regions(out, handoff(), memory().ranges, cpu(), devices());
    }

    // Nothing else: the lower half is gone (chapter 08), the heap is not there
    // yet (chapter 11), and the temporary window is idle between uses.
    virtual void expect_nothing_else(mm::ExpectedRegions& out) {
        using namespace mm;
        out.add(expect_absent("lower-half", VirtAddr(0), uint64_t(1) << 47));
        out.add(expect_absent("heap", layout::kHeapBase, layout::kHeapWindowSize));
        out.add(expect_absent("temporary-window", temporary_window().slot(), kPageSize));
    }
    // book:end expected-regions
};

}  // namespace chapter09
