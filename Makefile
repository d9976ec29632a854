# Top-level build: see README.md. Every output lands in build/.
BUILD   := build
CXX     := g++
LD      := ld
OBJCOPY := objcopy

# Shared by the loader and the kernels: freestanding C++20, no exceptions, no RTTI.
CXX_COMMON := -std=c++20 -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics \
    -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
    -nostdlib -O2 -g -Wall -Wextra -Werror=return-type

# Extra words for every chapter's cmdline.txt (tests write their own per boot).
CMDLINE ?=

.PHONY: all
all: loader kernels

include mk/loader.mk
include mk/kernel.mk

.PHONY: kernels
kernels: $(CHAPTER_IMAGES)

.PHONY: loader
loader: $(LOADER_EFI)

%/:
	mkdir -p $@
