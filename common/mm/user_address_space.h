// UserAddressSpace: one process's page tables (chapter 12 on).
//
// Its own PML4, whose lower half (slots 0-255) is the program's and whose
// upper half (slots 256-511) is a copy of the kernel's entries. Copying
// entries shares the kernel's PDPTs, so a mapping the kernel adds later
// under any of them is seen by every process at once, provided no slot is
// empty at the copy: share_kernel_half() (mm/kernel/kernel_half.h) gives each
// of the 256 slots a table at boot, and create() refuses a kernel PML4 with a
// slot missing.
//
// Pages are 4 KiB and user-accessible (U/S set at every level, the leaf's
// rights decide); each leaf's frame belongs to the process, so destroy()
// returns every leaf frame, every table and the PML4 itself, and touches no
// kernel table. Like PageTableBuilder it reaches physical memory through
// PhysicalMemoryAccess and gets frames from a FrameSource, so the host tests
// run it over a fake physical memory.
#pragma once

#include <stdint.h>

#include "arch/x86/paging_bits.h"
#include "mm/frame_source.h"
#include "mm/paging_depth.h"
#include "mm/physical_memory.h"
#include "mm/tlb_flush.h"
#include "mm/user_elf.h"
#include "mm/virt_addr.h"

namespace mm {

// book:begin user-flags
namespace user_flags {
namespace pte = x86::pte;
inline constexpr uint64_t kText = pte::kPresent | pte::kUser;                     // R-X
inline constexpr uint64_t kRodata = kText | pte::kNoExecute;                       // R--
inline constexpr uint64_t kData = kRodata | pte::kWritable;                        // RW- (and the stack)
inline constexpr uint64_t kTable = pte::kPresent | pte::kWritable | pte::kUser;   // non-leaf: the leaf decides
// Bit 9 of a page-table entry is ignored by the CPU, free for the OS (SDM Vol. 3A, 4.5, Table
// 4-20): set on a leaf whose frame the process borrows (a module's text,
// mapped in place), so destroy() leaves that frame where it is.
inline constexpr uint64_t kBorrowed = 1ull << 9;
}  // namespace user_flags

constexpr uint64_t user_leaf_flags(SegmentRights rights) {
    switch (rights) {
        case SegmentRights::kReadExecute: return user_flags::kText;
        case SegmentRights::kReadOnly: return user_flags::kRodata;
        case SegmentRights::kReadWrite: return user_flags::kData;
    }
    return user_flags::kRodata;
}
// book:end user-flags

// Where destroy() gives frames back (the steady-state allocator's free, in
// the kernel). False: the frame was refused, which destroy() counts.
class FrameSink {
public:
    virtual bool return_frame(PhysAddr frame) = 0;

protected:
    ~FrameSink() = default;
};

enum class [[nodiscard]] UserMapStatus : uint8_t {
    kOk,
    kBelowUserLowest,
    kAtOrAboveUserLimit,
    kMisaligned,
    kNotUserFlags,
    kWritableExecutable,
    kAlreadyMapped,
    kOutOfTableFrames,
    kKernelSlotMissing,
};
const char* describe(UserMapStatus status);

struct ReleasedFrames {
    uint64_t pages = 0;   // leaf frames returned
    uint64_t borrowed = 0;  // leaves over borrowed frames, unmapped and kept
    uint64_t tables = 0;  // PDPTs, PDs, PTs and the PML4 returned
    uint64_t refused = 0; // frames the sink would not take back (a bug: logged by the caller)
};

// What unmap_page() took off the tables: the leaf's frame and the tables
// that became empty, all still to be given back, after the flush.
struct UnmappedPage {
    PhysAddr frame;
    bool borrowed = false;  // the module's frame: not the process's to give back
    PhysAddr tables[3];     // PT, then PD, then PDPT, as each became empty
    unsigned table_count = 0;
};

class UserAddressSpace {
public:
    UserAddressSpace(PhysicalMemoryAccess& memory, FrameSource& frames) : memory_(memory), frames_(frames) {}
    UserAddressSpace(const UserAddressSpace&) = delete;
    UserAddressSpace& operator=(const UserAddressSpace&) = delete;

    // A fresh PML4 with an empty lower half and the kernel's 256 upper
    // entries copied from `kernel_pml4`; kKernelSlotMissing if one is empty.
    // With `depth` 5 (chapter 16) `kernel_pml4` is the kernel's PML5: the
    // process gets a PML5 with the kernel's 256 upper entries and, in entry
    // 0, a PML4 whose lower half is the program's (and whose upper half stays
    // empty), so user space stays below 2^47 and everything else here walks
    // that PML4 exactly as at four levels.
    UserMapStatus create(PhysAddr kernel_pml4, PagingDepth depth = PagingDepth::kFourLevel);

    // Maps the 4 KiB page at `va` to `frame`, which the process now owns
    // (or borrows, with user_flags::kBorrowed in `leaf_flags`).
    // Refuses an address outside [kUserLowest, kUserLimit), flags without
    // P and U/S or with W and X together, and a page already mapped; a
    // refusal maps nothing (a table it had to create stays, for destroy()).
    UserMapStatus map_page(VirtAddr va, PhysAddr frame, uint64_t leaf_flags);

    // Returns every frame the process owns to `sink`: leaves, tables, PML4.
    ReleasedFrames destroy(FrameSink& sink);

    // book:begin user-page-changes
    // Chapter 13 (user_page_changes.cpp): changes to pages already mapped.
    // The leaf over `va`, or nullptr when no table reaches that far.
    const PageTableEntry* leaf(VirtAddr va);
    // The first page in [from, end) with a present leaf, or `end`; skips a
    // missing table's whole span, so a 128 TiB range costs what is mapped.
    VirtAddr next_present(VirtAddr from, VirtAddr end);
    // Clears the present leaf at `va`, and each table the clearing left empty
    // (never the PML4); the token covers `va`, and invalidating it also drops
    // the paging-structure caches (SDM Vol. 3A, 4.10.4.1). Flush, then
    // release(): no frame is reused while a stale translation may reach it.
    TlbFlush unmap_page(VirtAddr va, TlbInvalidator& tlb, UnmappedPage* out);
    void release(const UnmappedPage& page, FrameSink& sink, ReleasedFrames& counts);
    // Gives the present leaf at `va` new flags (user, never W+X: asserted)
    // over the same frame.
    TlbFlush protect_page(VirtAddr va, uint64_t leaf_flags, TlbInvalidator& tlb);
    // book:end user-page-changes

    PhysAddr pml4() const { return pml4_; }
    // What CR3 loads for this process: the PML4, or at five levels the PML5 above it.
    PhysAddr root() const { return pml5_.value() != 0 ? pml5_ : pml4_; }
    PagingDepth depth() const { return depth_; }
    uint64_t pages() const { return pages_; }          // leaves over frames it owns
    uint64_t borrowed() const { return borrowed_; }    // leaves over borrowed frames
    uint64_t tables() const { return tables_; }  // the PML4 included (and the PML5, at five levels)

private:
    PageTable& table(PhysAddr frame) { return *memory_.table_at(frame); }
    bool new_table(PhysAddr* frame);
    UserMapStatus create_five_level(const PageTable& kernel_pml5);

    PhysicalMemoryAccess& memory_;
    FrameSource& frames_;
    PhysAddr pml4_;
    PhysAddr pml5_;  // five levels only (chapter 16)
    PagingDepth depth_ = PagingDepth::kFourLevel;
    uint64_t pages_ = 0;
    uint64_t borrowed_ = 0;
    uint64_t tables_ = 0;
};

}  // namespace mm
