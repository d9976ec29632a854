#include "mm/page_table_entry.h"

namespace mm {
namespace {

class TextSink {
public:
    TextSink(char* buffer, size_t capacity) : buffer_(buffer), capacity_(capacity) {}

    void word(const char* text) {
        if (length_ != 0) put('|');
        while (*text) put(*text++);
    }
    size_t finish() {
        if (capacity_ != 0) buffer_[length_] = '\0';
        return length_;
    }

private:
    void put(char c) {
        if (length_ + 1 < capacity_) buffer_[length_++] = c;  // room kept for the NUL
    }

    char* buffer_;
    size_t capacity_;
    size_t length_ = 0;
};

}  // namespace

size_t flags_summary(uint64_t flags, PageTableLevel level, char* buffer, size_t capacity) {
    namespace pte = x86::pte;
    // The order of the log lines the tests and the book quote: access rights
    // first, then caching, then the bits the CPU or the walker cares about.
    const uint64_t pat_bit = level == PageTableLevel::kPt ? pte::kPat4K : pte::kPatHuge;
    const bool large_leaf = level != PageTableLevel::kPt && (flags & pte::kHugePage) != 0;
    TextSink out(buffer, capacity);
    if (flags & pte::kPresent) out.word("P");
    if (flags & pte::kWritable) out.word("RW");
    if (flags & pte::kUser) out.word("US");
    if (flags & pte::kNoExecute) out.word("NX");
    if (flags & pte::kCacheDisable) out.word("PCD");
    if (flags & pte::kWriteThrough) out.word("PWT");
    // PAT sits at bit 7 in a PTE and at bit 12 in a large leaf; in a table
    // pointer bit 12 is part of the address and is never passed in here.
    if ((level == PageTableLevel::kPt || large_leaf) && (flags & pat_bit)) out.word("PAT");
    if (large_leaf) out.word("PS");
    if (flags & pte::kGlobal) out.word("G");
    if (flags & pte::kAccessed) out.word("A");
    if (flags & pte::kDirty) out.word("D");
    if (out.finish() != 0) return out.finish();
    out.word("-");  // an empty value would print as flags="" in a log line
    return out.finish();
}

}  // namespace mm
