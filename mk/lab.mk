# Labs: a chapter's key pieces written by the reader, graded by the tests
# (scripts/lab/, chapters/NN-name/lab.toml, book/reference/labs.md).

# help: lab          start chapter CH's lab in labs/CH (FRESH=1 starts over, keeping the old copy)
# help: grade        grade labs/CH: build it, run each part's tests, points and hints (SOLUTION=1: the reference)
# help: test-labs    prove every lab's grader: reference full marks, skeleton zero, each planted bug its part
.PHONY: lab grade test-labs
lab: check-chapter
	$(Q)$(PYTHON) scripts/lab/lab.py start $(CH) $(if $(FRESH),--fresh)

# A workspace reuses every object of the reference build it has not changed,
# so the reference is built first.
grade: check-chapter $(HOST_OBJS) $(BUILD)/$(CH)/disk.img
	$(Q)$(PYTHON) scripts/lab/lab.py grade $(CH) $(if $(SOLUTION),--solution)

test-labs: $(HOST_OBJS) kernels
	$(Q)$(PYTHON) scripts/lab/prove.py

# Inside a workspace: a host-test binary of only the lab's test files
# (LAB_HOST_TESTS) and all the code under test, so a grade links what it runs.
LAB_HOST_TESTS ?=
$(HOST_OUT)/lab_tests: $(patsubst %,$(HOST_OUT)/tests/host/%.o,$(LAB_HOST_TESTS) host_runtime) \
        $(patsubst %.cpp,$(HOST_OUT)/%.o,$(HOST_CODE_SRCS))
	@echo "  LD      $@"
	$(Q)$(CXX) $(HOST_CXXFLAGS) $^ -o $@ -lgtest -lgtest_main -pthread
