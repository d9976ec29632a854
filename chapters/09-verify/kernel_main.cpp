// Chapter 09: verify the address space.
//
// Chapter 08's kernel builds its address space and leaves the lower half.
// This one then reads its own live tables back through the phys-offset
// window, with one walker: every region is held against what its phase meant
// to map (frames, rights, memory type, page sizes; guard pages absent), every
// entry against the rules no kernel page may break (W^X, no user page, no
// stale non-present entry, no table reachable twice), and the whole is
// printed as merged ranges. A broken rule is named and ends the boot with the
// failure code.
#include "boot/handoff.h"
#include "boot_frame_allocator.h"
#include "boot_memory.h"
#include "kernel.h"
#include "kernel/leave_lower_half.h"
#include "kernel/boot_intake.h"
#include "kernel/phys_window_check.h"
#include "memory_manager.h"
#include "memory_map_log.h"
#include "panic.h"
#include "phys_window.h"
#include "support/log.h"

namespace {

mm::BootMemory g_memory;          // in .bss: the range list is too big for the stack
mm::BootFrameAllocator g_frames;  // every page-table frame comes from here

[[noreturn]] void fail() { kernel::exit_kernel(boot::ExitCode::kFailure); }

// Frames the kernel holds: handed out, and not back in the page-table reserve.
uint64_t frames_in_use() { return g_frames.frames_handed_out() - g_frames.reserve_len(); }

// Every kind test.bad-mapping knows, in the order test.bad-mapping=all installs them.
constexpr Str kBadMappings[] = {"wx", "user", "nonzero-entry", "shared-table"};

// test.bad-mapping=all: each bad mapping in turn, through the same verify()
// as a single one, then undone (the entry restored, the TLB flushed, every
// frame it took given back). The tables must then verify clean again, with
// as many frames in use as before, or the sweep stops there: the next kind
// would be judged on tables it did not start from. Then the boot ends with
// the failure code, as one bad mapping ends it; one let through is an error.
[[noreturn]] void catch_every_bad_mapping(MemoryManager& memory) {
    const uint64_t in_use = frames_in_use();
    klog::info("verify").msg("verifying before any bad mapping").kv("frames-in-use", in_use);
    if (!memory.verify()) fail();
    uint64_t accepted = 0;
    for (Str how : kBadMappings) {
        const MemoryManager::BadMapping bad = memory.install_bad_mapping(how);
        if (memory.verify()) {
            klog::error("verify").msg("bad mapping accepted").kv("kind", how);
            ++accepted;
        }
        const uint64_t returned = memory.undo_bad_mapping(bad);
        klog::info("verify").msg("bad mapping undone").kv("kind", how).kv("frames-returned", returned)
            .kv("frames-in-use", frames_in_use());
        if (frames_in_use() != in_use || !memory.verify()) {
            klog::error("verify").msg("bad mapping not undone").kv("kind", how).kv("frames-in-use-before", in_use);
            fail();
        }
    }
    klog::info("verify").msg("every bad mapping tried")
        .kv("kinds", uint64_t(sizeof(kBadMappings) / sizeof(kBadMappings[0]))).kv("accepted", accepted);
    fail();
}

}  // namespace

// book:begin kernel-main
void kernel_main(const boot::BootHandoff& loader_handoff) {
    mm::start_boot_memory(loader_handoff, g_memory, g_frames);

    MemoryManager memory(loader_handoff, g_memory, g_frames);
    memory.activate();
    mm::check_phys_window(g_memory.ranges, g_frames);
    const boot::BootHandoff& handoff = memory.remap_handoff();  // loader_handoff is a low address: done with it
    memory.remove_identity_map();
    mm::check_upper_half_only(handoff, g_memory, g_frames);

    const Str bad = kernel::command_line().value("test.bad-mapping");
    if (bad == Str("all")) catch_every_bad_mapping(memory);
    if (!bad.empty()) memory.install_bad_mapping(bad);
    const bool verified = memory.verify();
    memory.report();  // also after a failure: the ranges show what is wrong
    if (!verified) fail();
}
// book:end kernel-main
