# Chapter 11 hands the frames over from the boot allocator to a bitmap that
# can take them back (bitmap_frame_allocator, kernel/frame_handover), and
# starts the kernel heap behind operator new and delete (heap_allocator,
# kernel/kernel_heap) on chapter 10's kernel; chapter 09's verification checks
# the result, heap and kernel stacks included.
CHAPTER_MM_MODULES := handoff_validation memory_ranges memory_map_log boot_memory boot_frame_allocator \
    mtrr kernel/cpu_paging_features page_table_entry page_table_builder page_table_lookup mapping_log identity_map kernel_image_map phys_window \
    kernel/address_space kernel/phys_window_check acpi_tables mmio_map kernel/mmio_phases temporary_window \
    handoff_remap lower_half kernel/leave_lower_half kernel/boot_intake \
    kernel_stacks fault_decode kernel/exception_tables kernel/fault_reports \
    page_table_walker address_space_audit address_space_report \
    bitmap_frame_allocator kernel/frame_handover heap_allocator kernel/kernel_heap kernel/address_space_verification
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := steady_state_test
