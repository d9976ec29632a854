#include "mm/handoff_remap.h"

namespace mm {

// book:begin check-remapped-buffer
// lab:begin check-remap
Violation check_remapped_buffer(const RemapRequest& r, const MemoryRangeList& ranges) {
    if (r.size == 0 || r.size > kMaxRemapBytes) return reject("size", r.size, "must be between 1 byte and 1 MiB");
    if (!r.pa.is_aligned(8)) return reject("pa", r.pa.value(), "must be 8-byte aligned");
    const PhysAddr last = r.pa + (r.size - 1);  // cannot wrap: pa is a range start below 2^52
    const MemoryRange* range = ranges.find(r.pa);
    if (range == nullptr || range->kind != r.expected_kind || !range->contains(last))
        return reject("pa", r.pa.value(), "must lie wholly in memory of its loader-owned kind");
    for (uint64_t i = 0; i < r.size; ++i)
        if (r.validated[i] != r.remapped[i])
            return reject("contents", i, "must equal the validated bytes at every offset (value is the first that differs)");
    return accept();
}
// lab:end check-remap
// book:end check-remapped-buffer

}  // namespace mm
