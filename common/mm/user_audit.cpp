#include "mm/user_audit.h"

#include "mm/user_layout.h"

namespace mm {
namespace {

// book:begin user-audit
class UserAuditVisitor final : public PageTableVisitor {
public:
    void leaf(const Leaf& leaf) override {
        namespace pte = x86::pte;
        const uint64_t rights = effective_flags(leaf);
        const bool user = (rights & pte::kUser) != 0;
        const bool bad_wx = (rights & pte::kWritable) && !(rights & pte::kNoExecute);
        bool bad = bad_wx;
        if (leaf.va.is_upper_half()) {
            ++audit.kernel_pages;
            if (user) ++audit.kernel_user, bad = true;
        } else if (user) {
            ++audit.user_pages;
            if (leaf.va < kUserLowest || leaf.end() > kUserLimit) ++audit.outside, bad = true;
            if (leaf.size != PageSize::k4KiB) ++audit.huge_user, bad = true;
        }
        if (bad_wx) ++audit.wx;
        if (bad && audit.first_bad.is_null()) audit.first_bad = leaf.va;
    }
    UserAudit audit;
};
// book:end user-audit

}  // namespace

UserAudit audit_user_space(PageTableWalker& walker) {
    UserAuditVisitor visitor;
    walker.walk(visitor);
    return visitor.audit;
}

}  // namespace mm
