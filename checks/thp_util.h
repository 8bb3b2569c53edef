// Transparent huge pages for the checks: whether the kernel offers them, and
// regions whose 2 MiB pages really were populated as THPs, then brought into
// the mapping state a check needs (the states of the kernel's cow selftest).
#pragma once
#include "cow_util.h"

namespace odfb::checks {

// "" when a MADV_HUGEPAGE region can get THPs here; else why not.
inline std::string thp_missing()
{
	std::string mode = read_text("/sys/kernel/mm/transparent_hugepage/enabled");
	if (mode.empty())
		return "no transparent hugepages in this kernel";
	if (mode.find("[never]") != std::string::npos)
		return "transparent hugepages are off (enabled: never)";
	return "";
}

// Asks for THPs over [p, p + bytes) (2 MiB aligned) and touches the first
// byte of each 2 MiB (a read when `read_only`, for the huge zero page): "" if
// each came as one huge page (its last subpage is present as well, pagemap),
// else which did not.  Call it before any fork under ODF (pagemap walks).
inline std::string populate_thp(char *p, uint64_t bytes, bool read_only = false)
{
	if (madvise(p, bytes, MADV_HUGEPAGE) != 0)
		return fmt::format("madvise(MADV_HUGEPAGE): {}", strerror(errno));
	for (uint64_t off = 0; off < bytes; off += kWindow) {
		if (read_only) {
			volatile char c = p[off];
			(void)c;
		} else {
			p[off] = 1;
		}
		if (!(pagemap_entry(p + off + kWindow - page_size()) & kPresent))
			return fmt::format("the kernel did not populate a {}huge page at offset {} MiB on first touch",
					   read_only ? "zero " : "", off >> 20);
	}
	return "";
}

// A region of `thps` THPs, populated and filled with tag 1: unsupported()
// says why not when the kernel gave none.
class ThpRegion : public Region {
public:
	explicit ThpRegion(uint64_t thps, bool fill = true) : Region(thps * kWindow, 1, 0, false)
	{
		why_ = thp_missing();
		if (why_.empty())
			why_ = populate_thp(p(), bytes());
		if (why_.empty() && fill)
			fill_pages(p(), bytes(), 1);
	}
	const std::string &unsupported_why() const { return why_; }

private:
	std::string why_;
};

// PTE-maps each THP (the PMD mapping is split, the huge page stays): one
// subpage read-only and back, as the cow selftest does.
inline std::string pte_map(Region &r)
{
	for (uint64_t off = 0; off < r.bytes(); off += kWindow)
		if (mprotect(r.p() + off + page_size(), page_size(), PROT_READ) != 0 ||
		    mprotect(r.p() + off + page_size(), page_size(), PROT_READ | PROT_WRITE) != 0)
			return fmt::format("mprotect: {}", strerror(errno));
	return "";
}

// All n pages from p swapped out (pagemap), or which is not.
inline std::string expect_swapped(const char *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; ++i)
		if (!(pagemap_entry(p + i * page_size()) & kSwapped))
			return fmt::format("MADV_PAGEOUT left page {} of {} in memory", i, n);
	return "";
}

}  // namespace odfb::checks
