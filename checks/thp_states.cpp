// Transparent huge pages in each mapping state the kernel's cow selftest
// knows, then fork, a write on each side and every page checked on both
// (write_both_sides).  The PMD-mapped state is `thp` (features.cpp).  Under
// the 6.0.6 patch set a PTE-mapped THP in a process that forks under ODF
// gave `Bad page map` at once (odf-kernel-facts §4).
#include "thp_util.h"

namespace odfb::checks {
namespace {

Verdict both_sides_all(CheckCtx &ctx, Region &r, const std::function<int64_t(uint64_t)> &before)
{
	Verdict v = write_both_sides(ctx, {{r.p(), r.pages(), before}});
	r.release();  // unmapped by write_both_sides
	return v;
}

uint64_t per_thp() { return kWindow / page_size(); }

}  // namespace

ODFBENCH_CHECK({"thp-pte-mapped", "thp-states", "two THPs mapped by PTEs (mprotect of one subpage and back), then fork",
		[](CheckCtx &ctx) {
			ThpRegion r(2);
			if (!r.unsupported_why().empty())
				return unsupported(r.unsupported_why());
			if (auto e = pte_map(r); !e.empty())
				return fail(e);
			return both_sides_all(ctx, r, [](uint64_t) { return 1; });
		}})

ODFBENCH_CHECK({"thp-single-pte", "thp-states",
		"of two THPs only one subpage each stays mapped (MADV_DONTNEED of the rest), then fork; the rest reads zero",
		[](CheckCtx &ctx) {
			ThpRegion r(2);
			if (!r.unsupported_why().empty())
				return unsupported(r.unsupported_why());
			for (uint64_t off = 0; off < r.bytes(); off += kWindow)
				if (madvise(r.p() + off + page_size(), kWindow - page_size(), MADV_DONTNEED) != 0)
					return fail(fmt::format("madvise(MADV_DONTNEED): {}", strerror(errno)));
			return both_sides_all(ctx, r, [](uint64_t i) { return i % per_thp() == 0 ? 1 : 0; });
		}})

ODFBENCH_CHECK({"thp-partial-mremap", "thp-states",
		"the second half of a THP mremap'ed elsewhere (both halves PTE-map one huge page), then fork",
		[](CheckCtx &ctx) {
			ThpRegion r(1);
			if (!r.unsupported_why().empty())
				return unsupported(r.unsupported_why());
			uint64_t half = kWindow / 2;
			void *dst = mmap(nullptr, half, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (dst == MAP_FAILED)
				return fail(fmt::format("mmap: {}", strerror(errno)));
			void *moved = mremap(r.p() + half, half, half, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
			if (moved != dst)
				return fail(fmt::format("mremap: {}", strerror(errno)));
			char *m = static_cast<char *>(moved);
			fill_pages(m, half, 1);  // its pages numbered from 0, as the span counts them
			uint64_t n = half / page_size();
			Verdict v = write_both_sides(ctx, {{r.p(), n, [](uint64_t) { return 1; }}, {m, n, [](uint64_t) { return 1; }}});
			r.release();
			return v;
		}})

ODFBENCH_CHECK({"thp-partial-shared", "thp-states",
		"a THP of which one subpage was shared with a child that has exited (MADV_DONTFORK of the rest), then fork",
		[](CheckCtx &ctx) {
			ThpRegion r(1);
			if (!r.unsupported_why().empty())
				return unsupported(r.unsupported_why());
			if (madvise(r.p() + page_size(), kWindow - page_size(), MADV_DONTFORK) != 0)
				return fail(fmt::format("madvise(MADV_DONTFORK): {}", strerror(errno)));
			if (auto f = ctx.in_child([] { return std::string(); }); !f.empty())
				return fail(f);
			if (madvise(r.p() + page_size(), kWindow - page_size(), MADV_DOFORK) != 0)
				return fail(fmt::format("madvise(MADV_DOFORK): {}", strerror(errno)));
			return both_sides_all(ctx, r, [](uint64_t) { return 1; });
		}})

ODFBENCH_CHECK({"thp-zero-page", "thp-states", "two huge zero pages (read faults in a MADV_HUGEPAGE region), then fork",
		[](CheckCtx &ctx) {
			if (auto why = thp_missing(); !why.empty())
				return unsupported(why);
			if (read_text("/sys/kernel/mm/transparent_hugepage/use_zero_page").rfind("1", 0) != 0)
				return unsupported("the huge zero page is off (transparent_hugepage/use_zero_page)");
			Region r(2 * kWindow, 0, 0, false);
			if (auto why = populate_thp(r.p(), r.bytes(), true); !why.empty())
				return unsupported(why);
			return both_sides_all(ctx, r, [](uint64_t) { return 0; });
		}})

}  // namespace odfb::checks
