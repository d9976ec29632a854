# make bench: what a reader and a kernel engineer care about, as ratios measured
# side by side in one run (bench/run.py says what each section measures).
#
#   make bench                  everything but the `make test` timing
#   make bench BENCH_FULL=1     also time `make test` in a fresh clone (minutes)
#   make bench BENCH_RUNS=9     interleaved boot rounds (default 5)
#   make bench BENCH_ONLY="mapping footprint"   some sections only
#
# Prints one table and writes build/bench/results.csv and results.json.

BENCH_OUT := $(BUILD)/bench

# The firmware floor: a UEFI application built exactly like BOOTX64.EFI.
BENCH_FLOOR_OBJ := $(BENCH_OUT)/floor/floor.o
BENCH_FLOOR_EFI := $(BENCH_OUT)/floor/BOOTX64.EFI

$(BENCH_FLOOR_OBJ): bench/floor/floor.cpp mk/loader.mk bench/bench.mk | $(BENCH_OUT)/floor/
	@echo "  CXX     $<"
	$(Q)$(CXX) $(LOADER_CXXFLAGS) -MMD -MP -c $< -o $@

$(BENCH_OUT)/floor/floor.so: $(BENCH_FLOOR_OBJ)
	@echo "  LD      $@"
	$(Q)$(LD) -nostdlib -znocombreloc -T $(EFI_LDS) -shared -Bsymbolic -L$(EFI_LIB) \
	    $(EFI_CRT0) $^ -o $@ -lefi -lgnuefi

$(BENCH_FLOOR_EFI): $(BENCH_OUT)/floor/floor.so
	@echo "  EFI     $@"
	$(Q)$(OBJCOPY) -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel -j .rela -j .rel.* -j .rela.* \
	    -j .reloc --target=efi-app-x86_64 --subsystem=10 $< $@

# Mapping cost: PageTableBuilder against a naive mapper, on the host, -O2 and
# no sanitizers (callgrind counts instructions, so they would only add noise).
BENCH_MAPPING_COST := $(BENCH_OUT)/mapping_cost
BENCH_MAPPING_SRCS := bench/mapping_cost.cpp common/mm/page_table_builder.cpp common/mm/page_table_entry.cpp \
    common/mm/page_table_lookup.cpp common/mm/mtrr.cpp tests/host/host_runtime.cpp

$(BENCH_MAPPING_COST): $(BENCH_MAPPING_SRCS) $(wildcard common/mm/*.h common/include/*/*.h) tests/host/fake_physical_memory.h bench/bench.mk | $(BENCH_OUT)/
	@echo "  HOSTCXX $@"
	$(Q)$(CXX) -std=c++20 -O2 -g -Wall -Wextra -Icommon/include -Icommon -Itests/host \
	    $(BENCH_MAPPING_SRCS) -o $@

# Fork cost: chapter 14's copy-on-write clone against an eager copy, on the
# host, the same way (callgrind around the fork only).
BENCH_FORK_COST := $(BENCH_OUT)/fork_cost
BENCH_FORK_SRCS := bench/fork_cost.cpp common/mm/copy_on_write.cpp common/mm/cow_write_fault.cpp \
    common/mm/counted_pages.cpp common/mm/frame_ref_counts.cpp common/mm/bitmap_frame_allocator.cpp \
    common/mm/boot_frame_allocator.cpp common/mm/memory_ranges.cpp \
    common/mm/user_address_space.cpp common/mm/user_page_changes.cpp common/mm/user_leaves.cpp \
    common/mm/page_table_entry.cpp tests/host/host_runtime.cpp

$(BENCH_FORK_COST): $(BENCH_FORK_SRCS) $(wildcard common/mm/*.h common/include/*/*.h) tests/host/fake_physical_memory.h bench/bench.mk | $(BENCH_OUT)/
	@echo "  HOSTCXX $@"
	$(Q)$(CXX) -std=c++20 -O2 -g -Wall -Wextra -Icommon/include -Icommon -Itests/host \
	    $(BENCH_FORK_SRCS) -o $@

# Fault cost: chapter 13's first touch per page, and demand paging against
# mapping a region up front, on the host the same way.
BENCH_FAULT_COST := $(BENCH_OUT)/fault_cost
BENCH_FAULT_SRCS := bench/fault_cost.cpp common/mm/demand_fault.cpp common/mm/user_regions.cpp \
    common/mm/user_address_space.cpp common/mm/user_page_changes.cpp common/mm/user_layout.cpp \
    common/mm/page_table_entry.cpp tests/host/host_runtime.cpp

$(BENCH_FAULT_COST): $(BENCH_FAULT_SRCS) $(wildcard common/mm/*.h common/include/*/*.h) tests/host/fake_physical_memory.h bench/bench.mk | $(BENCH_OUT)/
	@echo "  HOSTCXX $@"
	$(Q)$(CXX) -std=c++20 -O2 -g -Wall -Wextra -Icommon/include -Icommon -Itests/host \
	    $(BENCH_FAULT_SRCS) -o $@

.PHONY: bench
# help: bench        benchmarks as ratios measured in one run (build/bench/results.csv)
bench: kernels $(BENCH_FLOOR_EFI) $(BENCH_MAPPING_COST) $(BENCH_FORK_COST) $(BENCH_FAULT_COST)
	$(Q)$(PYTHON) bench/run.py $(if $(filter 1,$(BENCH_FULL)),--full) $(if $(BENCH_RUNS),--runs $(BENCH_RUNS)) \
	    $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

-include $(BENCH_FLOOR_OBJ:.o=.d)
