// Transparent huge pages in each mapping state the kernel's cow selftest
// knows, then fork, a write on each side and every page checked on both
// (write_both_sides), once with the child writing first and once with the
// parent first.  Under the 6.0.6 patch set a PTE-mapped THP in a process
// that forks under ODF gave `Bad page map` (odf-kernel-facts §4).
#include "thp_util.h"

namespace odfb::checks {
namespace {

uint64_t per_thp() { return kWindow / page_size(); }

// A fresh region of `thps` THPs brought into a state by `shape` (which may
// give a verdict other than pass, or replace the spans), then forked: in
// both orders of writers, then once more built in a process where ODF is
// already on (a fork before the region exists).
Verdict thp_state(CheckCtx &ctx, uint64_t thps, const std::function<int64_t(uint64_t)> &before,
		  const std::function<Verdict(Region &, std::vector<Span> &)> &shape)
{
	auto one = [&](First first) {
		ThpRegion r(thps);
		if (!r.unsupported_why().empty())
			return unsupported(r.unsupported_why());
		std::vector<Span> spans = {{r.p(), r.pages(), before}};
		if (Verdict v = shape(r, spans); v.status != "pass")
			return v;
		Verdict v = write_both_sides(ctx, spans, first);
		r.release();  // unmapped by write_both_sides
		return v;
	};
	Verdict v = in_both_orders(one);
	if (v.status != "pass")
		return v;
	if (auto f = switch_on_by_fork(ctx); !f.empty())
		return fail(f);
	Verdict w = one(First::Child);
	return w.status == "pass" ? v : Verdict{w.status, "built with ODF already on: " + w.detail};
}

Verdict as_is(Region &, std::vector<Span> &) { return pass(); }
int64_t all_ones(uint64_t) { return 1; }

}  // namespace

ODFBENCH_CHECK({"thp-pmd-mapped", "thp-states", "two PMD-mapped THPs, then fork",
		[](CheckCtx &ctx) { return thp_state(ctx, 2, all_ones, as_is); }})

ODFBENCH_CHECK({"thp-pte-mapped", "thp-states", "two THPs mapped by PTEs (mprotect of one subpage and back), then fork",
		[](CheckCtx &ctx) {
			return thp_state(ctx, 2, all_ones, [](Region &r, std::vector<Span> &) {
				auto e = pte_map(r);
				return e.empty() ? pass() : fail(e);
			});
		}})

ODFBENCH_CHECK({"thp-single-pte", "thp-states",
		"of two THPs only one subpage each stays mapped (MADV_DONTNEED of the rest), then fork; the rest reads zero",
		[](CheckCtx &ctx) {
			return thp_state(
				ctx, 2, [](uint64_t i) -> int64_t { return i % per_thp() == 0 ? 1 : 0; },
				[](Region &r, std::vector<Span> &) {
					for (uint64_t off = 0; off < r.bytes(); off += kWindow)
						if (madvise(r.p() + off + page_size(), kWindow - page_size(), MADV_DONTNEED) != 0)
							return fail(fmt::format("madvise(MADV_DONTNEED): {}", strerror(errno)));
					return pass();
				});
		}})

ODFBENCH_CHECK({"thp-partial-mremap", "thp-states",
		"the second half of a THP mremap'ed elsewhere (both halves PTE-map one huge page), then fork",
		[](CheckCtx &ctx) {
			return thp_state(ctx, 1, all_ones, [](Region &r, std::vector<Span> &spans) {
				uint64_t half = kWindow / 2, n = half / page_size();
				void *dst = mmap(nullptr, half, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (dst == MAP_FAILED)
					return fail(fmt::format("mmap: {}", strerror(errno)));
				if (mremap(r.p() + half, half, half, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst)
					return fail(fmt::format("mremap: {}", strerror(errno)));
				fill_pages(static_cast<char *>(dst), half, 1);  // numbered from 0, as its span counts
				spans = {{r.p(), n, all_ones}, {static_cast<char *>(dst), n, all_ones}};
				return pass();
			});
		}})

ODFBENCH_CHECK({"thp-partial-shared", "thp-states",
		"a THP of which one subpage was shared with a child that has exited (MADV_DONTFORK of the rest), then fork",
		[](CheckCtx &ctx) {
			return thp_state(ctx, 1, all_ones, [&](Region &r, std::vector<Span> &) {
				if (madvise(r.p() + page_size(), kWindow - page_size(), MADV_DONTFORK) != 0)
					return fail(fmt::format("madvise(MADV_DONTFORK): {}", strerror(errno)));
				if (auto f = ctx.in_child([] { return std::string(); }); !f.empty())
					return fail(f);
				if (madvise(r.p() + page_size(), kWindow - page_size(), MADV_DOFORK) != 0)
					return fail(fmt::format("madvise(MADV_DOFORK): {}", strerror(errno)));
				return pass();
			});
		}})

ODFBENCH_CHECK({"thp-zero-page", "thp-states", "two huge zero pages (read faults in a MADV_HUGEPAGE region), then fork",
		[](CheckCtx &ctx) {
			if (auto why = thp_missing(); !why.empty())
				return unsupported(why);
			if (read_text("/sys/kernel/mm/transparent_hugepage/use_zero_page").rfind("1", 0) != 0)
				return unsupported("the huge zero page is off (transparent_hugepage/use_zero_page)");
			return in_both_orders([&](First first) {
				Region r(2 * kWindow, 0, 0, false);
				if (auto why = populate_thp(r.p(), r.bytes(), true); !why.empty())
					return unsupported(why);
				Verdict v = write_both_sides(ctx, {{r.p(), r.pages(), [](uint64_t) { return 0; }}}, first);
				r.release();
				return v;
			});
		}})

}  // namespace odfb::checks
