# Chapter 02 adds the memory map: its view, the handoff's validation, the
# normalised range list, the log lines that print them, and load_boot_memory,
# which later chapters start from.
CHAPTER_BASE := 01-boot
CHAPTER_NEW_MODULES := handoff_validation memory_ranges memory_map_log boot_memory
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := memory_map_test
