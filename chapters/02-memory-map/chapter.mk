# Chapter 02 adds the memory map: its view, the handoff's validation, the
# normalised range list, and the log lines that print them.
CHAPTER_MM_MODULES := handoff_validation memory_ranges memory_map_log
