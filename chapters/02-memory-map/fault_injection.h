// Fault injection for chapter 02, beside the story: `test.corrupt=HOW` damages
// a *copy* of the handoff and its map, and the kernel then runs the same
// validation the real handoff goes through, so that the tests see each kind of
// damage rejected with its own named rule (tests/test_02_memory_map.py).
#pragma once

#include <stdint.h>

#include "boot/handoff.h"
#include "mm/boot_memory.h"

// The handoff and map the chapter goes on with: the real ones (`*map` is the
// real map), or damaged copies when the command line asks for them;
// `test.corrupt=all` tries every damage into `memory` and does not return.
const boot::BootHandoff& corrupted_if_requested(const boot::BootHandoff& real, const uint8_t** map,
                                                mm::BootMemory& memory);
