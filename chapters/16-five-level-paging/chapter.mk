# Chapter 16 runs chapter 15's kernel at five levels of page tables when the
# command line asks (`paging=5`) and the CPU has LA57: the loader switches
# through its trampoline (common/boot/paging_handover), the kernel learns the
# depth from CR4.LA57 and says it (kernel/paging_depth), and every phase,
# the verification, each AP's trampoline and the processes build and walk a
# PML5 on top. On a CPU without LA57 the same image runs at four levels.
CHAPTER_BASE := 15-tlb-shootdown
CHAPTER_NEW_MODULES := kernel/paging_depth
CHAPTER_NEW_RUNTIME := five_level_note
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := five_level_paging_test five_level_processes_test
# The programs on its disk image, \user\NAME.elf (chapters/16-five-level-paging/user/NAME.cpp, mk/user.mk).
CHAPTER_USER_PROGRAMS := deep-fork read-above-47
# And chapter 15's two, so its lazy CPUs and its GS rule are held at five levels too.
CHAPTER_BASE_PROGRAMS := hop load-gs
