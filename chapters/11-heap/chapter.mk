# Chapter 11 hands the frames over from the boot allocator to a bitmap that
# can take them back (bitmap_frame_allocator, kernel/frame_handover), and
# starts the kernel heap behind operator new and delete (heap_allocator,
# kernel/kernel_heap) on chapter 10's kernel; the verification (chapter 09,
# through 10) checks the result, heap and kernel stacks included.
CHAPTER_BASE := 10-page-faults
CHAPTER_NEW_MODULES := bitmap_frame_allocator kernel/frame_handover heap_allocator kernel/kernel_heap
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := steady_state_test
