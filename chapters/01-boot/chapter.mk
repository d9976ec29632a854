# Chapter 01 uses the kernel runtime only: no common/mm module yet.
CHAPTER_MM_MODULES :=
