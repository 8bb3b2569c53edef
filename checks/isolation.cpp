// Isolation: after fork, each side's writes are invisible to the other, at
// page granularity, on both sides of every 2 MiB PTE-table edge, for the
// first write into a shared table and for later ones, in both orders.
#include "check_util.h"

namespace odfb::checks {
namespace {

// `first` writes tag 2 to the edge pages, the other side checks and writes
// tag 4 to every seventh page and the edges; then `first` writes again (tag 3).
Verdict isolation(CheckCtx &ctx, bool child_first)
{
	Region r(8 * kWindow / 2);  // 8 MiB: four tables
	auto edges = edge_pages(r.pages());
	auto sevenths = [&](uint64_t i) { return i % 7 == 3 || edges.count(i); };
	Duet d(ctx);
	bool leader = d.is_child() == child_first;
	std::string f1, f2, f3;
	const char *me = d.is_child() ? "the child" : "the parent";
	if (leader) {
		for (uint64_t i : edges)
			set_page(r.p(), i, 2);
		d.hand_over();
		f1 = expect_pages(r.p(), r.pages(), [&](uint64_t i) { return edges.count(i) ? 2 : 1; }, me);
		for (uint64_t i : edges)
			set_page(r.p(), i, 3);
		d.hand_over();
		f2 = expect_pages(r.p(), r.pages(), [&](uint64_t i) { return edges.count(i) ? 3 : 1; }, me);
	} else {
		d.wait_turn();
		f1 = expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, me);
		for (uint64_t i = 0; i < r.pages(); ++i)
			if (sevenths(i))
				set_page(r.p(), i, 4);
		d.hand_over();
		f2 = expect_pages(r.p(), r.pages(), [&](uint64_t i) { return sevenths(i) ? 4 : 1; }, me);
		for (uint64_t i = 0; i < r.pages(); ++i)  // a later write, into tables already unshared
			if (sevenths(i))
				set_page(r.p(), i, 6);
		f3 = expect_pages(r.p(), r.pages(), [&](uint64_t i) { return sevenths(i) ? 6 : 1; }, me);
	}
	if (d.is_child())
		d.child_exit(first_of({f1, f2, f3}));
	std::string child = d.join();
	return verdict_of(first_of({f1, f2, f3, child}));
}

}  // namespace

ODFBENCH_CHECK({"isolation-child-first", "isolation",
		"child writes first, then the parent, then the child again: neither sees the other's pages", [](CheckCtx &c) {
			return isolation(c, true);
		}})
ODFBENCH_CHECK({"isolation-parent-first", "isolation",
		"parent writes first, then the child, then the parent again: neither sees the other's pages", [](CheckCtx &c) {
			return isolation(c, false);
		}})
ODFBENCH_CHECK({"isolation-many-children", "isolation", "eight children of one parent each write their own tag; nobody sees another's",
		[](CheckCtx &ctx) {
			Region r(4 * kWindow);
			auto edges = edge_pages(r.pages());
			std::string f;
			for (uint32_t k = 0; k < 8 && f.empty(); ++k)
				f = ctx.in_child([&] {
					std::string g = expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "a new child");
					for (uint64_t i : edges)
						set_page(r.p(), i, 10 + k);
					return first_of({g, expect_pages(r.p(), r.pages(), [&](uint64_t i) { return edges.count(i) ? 10 + k : 1; },
									  "the child after writing")});
				});
			return verdict_of(first_of({f, expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the parent")}));
		}})

}  // namespace odfb::checks
