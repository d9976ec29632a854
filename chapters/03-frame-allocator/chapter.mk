# Chapter 03 adds the FrameSource interface, BootFrameAllocator and its
# ReservedPool (headers, plus the allocator's .cpp below).
CHAPTER_BASE := 02-memory-map
CHAPTER_NEW_MODULES := boot_frame_allocator
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := frame_allocator_test
