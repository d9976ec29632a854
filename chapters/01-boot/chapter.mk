# Chapter 01 uses the kernel runtime only: no common/mm module yet, and no
# chapter to build on. Every later chapter names the one it builds on
# (CHAPTER_BASE) and the common/mm modules it adds (CHAPTER_NEW_MODULES),
# and any common/kernel module it adds to the runtime every chapter links
# (CHAPTER_NEW_RUNTIME); mk/kernel.mk links the base's modules and these.
CHAPTER_BASE :=
CHAPTER_NEW_MODULES :=
# The host unit tests (tests/host/) of what this chapter adds; `make check` runs
# them with those of the chapters before it.
CHAPTER_HOST_TESTS := elf_image_test support_test text_screen_test
