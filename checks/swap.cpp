// Swapped-out pages and fork: a PTE that holds a swap entry is copied (or,
// under ODF, shared) at fork, and each side must swap in its own copy.  The
// checks need real swap (MADV_PAGEOUT does nothing without it): odfbench sets
// up a zram or loop device for them when none is active (check/host_setup.h).
#include "check/host_setup.h"
#include "thp_util.h"

namespace odfb::checks {
namespace {

// /proc/vmstat's pswpout: pages written to swap, machine-wide.  Read instead
// of pagemap where the process shares tables (after an ODF fork).
uint64_t pswpout()
{
	std::string s = read_text("/proc/vmstat");
	auto at = s.find("\npswpout ");
	return at == std::string::npos ? 0 : std::stoull(s.substr(at + 9));
}

// Pages out [p, p + pages) before fork and checks that all of them went.
std::string page_out(char *p, uint64_t pages)
{
	if (madvise(p, pages * page_size(), MADV_PAGEOUT) != 0)
		return fmt::format("madvise(MADV_PAGEOUT): {}", strerror(errno));
	return expect_swapped(p, pages);
}

// A fresh region from `make` (nullptr and a reason when it cannot be had),
// swapped out, then forked; in both orders of writers.
Verdict swapped_then_fork(CheckCtx &ctx, const std::function<std::unique_ptr<Region>(std::string &why)> &make)
{
	return in_both_orders([&](First first) {
		std::string why;
		auto r = make(why);
		if (!r)
			return unsupported(why);
		if (why = page_out(r->p(), r->pages()); !why.empty())
			return unsupported(why);
		Verdict v = write_both_sides(ctx, {{r->p(), r->pages(), [](uint64_t) { return 1; }}}, first);
		r->release();
		return v;
	});
}

// One THP, PTE-mapped when asked.
std::unique_ptr<Region> thp(bool pte_mapped, std::string &why)
{
	auto r = std::make_unique<ThpRegion>(1);
	why = r->unsupported_why();
	if (why.empty() && pte_mapped)
		why = pte_map(*r);
	return why.empty() ? std::move(r) : nullptr;
}

}  // namespace

ODFBENCH_CHECK({"swapped-before-fork", "swap", "4 MiB of base pages swapped out (MADV_PAGEOUT), then fork",
		[](CheckCtx &ctx) {
			return swapped_then_fork(ctx, [](std::string &) { return std::make_unique<Region>(2 * kWindow); });
		},
		false, {kNeedSwap}})

ODFBENCH_CHECK({"thp-pmd-swapped", "swap", "a PMD-mapped THP swapped out, then fork",
		[](CheckCtx &ctx) { return swapped_then_fork(ctx, [](std::string &why) { return thp(false, why); }); }, false, {kNeedSwap}})

ODFBENCH_CHECK({"thp-pte-swapped", "swap", "a PTE-mapped THP swapped out, then fork",
		[](CheckCtx &ctx) { return swapped_then_fork(ctx, [](std::string &why) { return thp(true, why); }); }, false, {kNeedSwap}})

ODFBENCH_CHECK({"swapped-in-child", "swap",
		"after fork the child writes every other page, swaps its region out and reads it back; the parent sees none of it",
		[](CheckCtx &ctx) {
			Region r(2 * kWindow);
			std::string skipped;  // set by the child when nothing was swapped
			Duet d(ctx);
			if (d.is_child()) {
				// Only pages mapped once can be paged out: the child's own copies.
				for (uint64_t i = 0; i < r.pages(); i += 2)
					set_page(r.p(), i, kChildTag);
				uint64_t before = pswpout();
				if (madvise(r.p(), r.bytes(), MADV_PAGEOUT) != 0)
					d.child_exit(fmt::format("madvise(MADV_PAGEOUT): {}", strerror(errno)));
				uint64_t out = pswpout() - before;
				if (out < r.pages() / 2)
					d.child_exit(fmt::format("unsupported: MADV_PAGEOUT swapped out {} pages, not the child's {}", out, r.pages() / 2));
				d.hand_over();
				d.child_exit(expect_pages(r.p(), r.pages(), [](uint64_t i) { return i % 2 ? 1 : kChildTag; },
							  "the child after swapping in"));
			}
			d.wait_turn();
			std::string g = expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the parent after the child swapped out");
			for (uint64_t i = 1; i < r.pages(); i += 4)
				set_page(r.p(), i, kParentTag);
			std::string child = d.join();
			if (child.rfind("unsupported: ", 0) == 0)
				return unsupported(child.substr(13));
			return verdict_of(first_of({child, g, expect_pages(r.p(), r.pages(), [](uint64_t i) { return i % 4 == 1 ? kParentTag : 1; },
									  "the parent")}));
		},
		false, {kNeedSwap}})

}  // namespace odfb::checks
