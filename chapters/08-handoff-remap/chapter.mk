# Chapter 08 moves the handoff and the memory map to the phys-offset window
# (handoff_remap) and removes the identity map and the whole lower half
# (lower_half), on top of chapter 07's address space.
CHAPTER_BASE := 07-temporary-window
CHAPTER_NEW_MODULES := handoff_remap lower_half kernel/leave_lower_half
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := handoff_remap_test
