# Chapter 05 turns chapter 04's two phases into the MemoryManager's boot
# sequence (kernel/address_space) and adds the phys-offset window
# (phys_window) and its self-check (kernel/phys_window_check).
CHAPTER_BASE := 04-page-tables
CHAPTER_NEW_MODULES := phys_window kernel/address_space kernel/phys_window_check
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := phys_window_test
