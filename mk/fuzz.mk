# Fuzzing: libFuzzer targets (clang's, from Debian) for every parser of outside
# input and for the page-table builder, under ASan and UBSan.
#
#   tests/fuzz/<target>_fuzz.cpp       the target: its input format and invariants
#   tests/fuzz/corpus/<target>/        seeds, written by `make fuzz-seeds`
#   tests/fuzz/regressions/<target>/   every crash ever found, replayed by make test
#
# `make test` replays the regressions and fuzzes each target for a fixed number of inputs
# (tests/test_fuzz.py); `make fuzz` fuzzes each for FUZZ_SECONDS.

FUZZ_CXX      := clang++
FUZZ_TARGETS  := elf_image memory_map page_table acpi_tables address_space_audit steady_state
FUZZ_OUT      := $(BUILD)/fuzz
FUZZ_SECONDS  ?= 60
FUZZ_CXXFLAGS := -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Icommon/include -Icommon/boot -Icommon/mm -Itests/host -Itests/fuzz
# The code under test: the same pure sources the host tests compile.
FUZZ_CODE_SRCS := $(HOST_CODE_SRCS) tests/host/host_runtime.cpp
FUZZ_BINS := $(foreach t,$(FUZZ_TARGETS),$(FUZZ_OUT)/$(t)_fuzz)

$(FUZZ_OUT)/%_fuzz: tests/fuzz/%_fuzz.cpp $(FUZZ_CODE_SRCS) $(wildcard tests/fuzz/*.h tests/host/*.h common/mm/*.h common/boot/*.h common/include/*/*.h) mk/fuzz.mk
	@mkdir -p $(dir $@)
	@echo "  FUZZCXX $@"
	$(Q)$(FUZZ_CXX) $(FUZZ_CXXFLAGS) $< $(FUZZ_CODE_SRCS) -o $@

.PHONY: fuzz-targets fuzz fuzz-seeds
fuzz-targets: $(FUZZ_BINS)

# New inputs go to build/fuzz/corpus (the seeds stay as committed); crashes to
# build/fuzz/crashes, to be copied into tests/fuzz/regressions once fixed.
fuzz: $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_OUT)/corpus/$$t $(FUZZ_OUT)/crashes/$$t; \
	    echo "  FUZZ    $$t ($(FUZZ_SECONDS) s)"; \
	    $(FUZZ_OUT)/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_OUT)/crashes/$$t/ $(FUZZ_OUT)/corpus/$$t tests/fuzz/corpus/$$t \
	        2>&1 | grep -E '^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY)' || exit 1; \
	done

fuzz-seeds: tests/fuzz/make_seeds.cpp
	@mkdir -p $(FUZZ_OUT) $(foreach t,$(FUZZ_TARGETS),tests/fuzz/corpus/$(t))
	$(Q)$(CXX) -std=c++20 -Wall -Icommon/include -Icommon/mm -Itests/host $< -o $(FUZZ_OUT)/make_seeds
	$(Q)$(FUZZ_OUT)/make_seeds tests/fuzz/corpus
