// Fault injection for chapter 09, beside the story: `test.bad-mapping=KIND`
// plants one page-table entry that breaks a rule of the audit, the way a bug
// in a phase would, so that verify() must name it and the boot must end with
// the failure code; `test.bad-mapping=all` plants each kind in turn and undoes
// it (tests/test_09_verify.py). Nothing here is part of the MemoryManager's API.
#pragma once

#include "memory_manager.h"

// Does nothing unless the command line asks; test.bad-mapping=all does not return.
void plant_requested_bad_mappings(chapter09::MemoryManager& memory);
