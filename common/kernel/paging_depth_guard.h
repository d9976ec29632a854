// Refusing a paging depth the chapter does not follow.
//
// The loader obeys `paging=5` whatever kernel it loads: it cannot tell one
// chapter from another. A chapter whose tables are 4-level, handed five
// levels, would give the CPU a PML4 to read as a PML5 at its first CR3 load,
// and the machine would reset without a word. Only a chapter whose sources
// read `paging=` (chapter 16; kKnownOptions is generated from the sources)
// follows CR4.LA57; any other stops here, by name, before it maps anything:
//   [ERROR paging] paging depth rejected field=CR4.LA57 value=1 rule="…"
#pragma once

namespace kernel {

void refuse_unfollowed_paging_depth();

}  // namespace kernel
