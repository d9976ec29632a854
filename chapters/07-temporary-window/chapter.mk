# Chapter 07 extends chapter 06's MemoryManager with one phase, the temporary
# window (temporary_window): one fixed page through which any frame can be
# seen, changed only with a TLB flush token (tlb_flush, cpu_tlb).
CHAPTER_BASE := 06-mmio
CHAPTER_NEW_MODULES := temporary_window kernel/temporary_window_phase
# Host unit tests (tests/host/) of what this chapter adds.
CHAPTER_HOST_TESTS := temporary_window_test
