# Chapter 03 adds the FrameSource interface, BootFrameAllocator and its
# ReservedPool (headers, plus the allocator's .cpp below).
CHAPTER_MM_MODULES := handoff_validation memory_ranges memory_map_log boot_memory boot_frame_allocator
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := frame_allocator_test
