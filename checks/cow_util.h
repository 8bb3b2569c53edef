// The copy-on-write contract as the kernel's cow selftest states it, for
// the checks of the second pass: what pagemap says of a page, and a fork
// after which both sides write and check every page of their own view.
#pragma once
#include <vector>

#include "check_util.h"

namespace odfb::checks {

// What /proc/self/pagemap says of one page (0 if unreadable).  Read it before
// the process forks under ODF: walking shared tables is itself a hazard there
// (the proc-readers check).
inline uint64_t pagemap_entry(const void *addr)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	uint64_t e = 0;
	off_t off = static_cast<off_t>(reinterpret_cast<uintptr_t>(addr) / page_size() * 8);
	if (pread(fd, &e, 8, off) != 8)
		e = 0;
	close(fd);
	return e;
}
inline constexpr uint64_t kPresent = 1ull << 63, kSwapped = 1ull << 62, kSoftDirty = 1ull << 55;

// Pages of memory a both-sides check looks at: `pages` pages from `p`, page i
// holding before(i) (a tag, 0 for a zero page, kSkip for not looked at).
struct Span {
	char *p;
	uint64_t pages;
	std::function<int64_t(uint64_t)> before;
};
inline constexpr uint32_t kChildTag = 21, kParentTag = 22;

// Which side writes first after the fork.  Under ODF the first writer
// copies the shared table and the other keeps (reuses) the original, so both
// orders are worth a run.
enum class First { Child, Parent };

// The copy-on-write contract, page by page: fork; the child writes kChildTag
// to pages i % 3 == 1 of every span, the parent kParentTag to pages i % 3 == 2,
// in the order `first` says; each side checks every page of its view before
// and after (the other's writes invisible), and unmaps the spans: the side
// that wrote first also unmaps first.  `settle`,
// when given, runs in the parent once the child has read its view (a fork
// leaves the child's PTEs old; the reads make them young again) and before
// either side writes; a verdict other than pass from it ends the check, a
// pass note is kept on the pass.
inline Verdict write_both_sides(CheckCtx &ctx, const std::vector<Span> &spans, First first = First::Child,
				const std::function<Verdict(pid_t child)> &settle = nullptr)
{
	auto view = [&](uint32_t tag, uint64_t which, const char *who) {
		for (const auto &s : spans)
			if (auto f = expect_pages(s.p, s.pages,
						  [&](uint64_t i) { return s.before(i) != kSkip && i % 3 == which ? tag : s.before(i); }, who);
			    !f.empty())
				return f;
		return std::string();
	};
	auto write = [&](uint32_t tag, uint64_t which) {
		for (const auto &s : spans)
			for (uint64_t i = which; i < s.pages; i += 3)
				if (s.before(i) != kSkip)
					set_page(s.p, i, tag);
	};
	auto unmap = [&] {
		for (const auto &s : spans)
			if (munmap(s.p, s.pages * page_size()) != 0)
				return fmt::format("munmap: {}", strerror(errno));
		return std::string();
	};
	Duet d(ctx);
	if (d.is_child()) {
		std::string f = view(0, 3, "the child after fork");  // which = 3: no page is rewritten
		d.hand_over();  // the parent settles, and writes if it goes first
		write(kChildTag, 1);
		d.hand_over();  // the parent writes if it goes second
		f = first_of({f, view(kChildTag, 1, "the child after both wrote")});
		d.child_exit(first_of({f, unmap()}));
	}
	d.wait_turn();
	Verdict settled = settle ? settle(d.other()) : pass();
	if (settled.status != "pass") {
		kill(d.other(), SIGKILL);  // it waits for a turn that will not come
		(void)d.join();
		unmap();
		return settled;
	}
	std::string before;
	if (first == First::Parent) {
		before = view(0, 3, "the parent before either wrote");
		write(kParentTag, 2);
	}
	d.hand_over();
	std::string child, after, unmapped;
	if (first == First::Child) {
		before = view(0, 3, "the parent after the child wrote");
		write(kParentTag, 2);
		child = d.join();  // the child checks, unmaps and exits first
		after = view(kParentTag, 2, "the parent after both wrote");
		unmapped = unmap();
	} else {
		after = view(kParentTag, 2, "the parent after both wrote");
		unmapped = unmap();  // the parent unmaps first, the child after it
		child = d.join();
	}
	std::string f = first_of({child, before, after, unmapped});
	return f.empty() ? settled : fail(f);
}

// Forks a child that exits at once: under the 6.0.6 patch set ODF (set by
// prctl) becomes active at a clone, so what is built after this is built in a
// process with ODF on, as in a program started through the launcher.
inline std::string switch_on_by_fork(CheckCtx &ctx) { return ctx.in_child([] { return std::string(); }); }

// `one` on a fresh state with the child writing first, then with the parent
// first; the first verdict that is not a pass, named by its order.
inline Verdict in_both_orders(const std::function<Verdict(First)> &one)
{
	Verdict a = one(First::Child);
	if (a.status != "pass")
		return {a.status, "child writes first: " + a.detail};
	Verdict b = one(First::Parent);
	if (b.status != "pass")
		return {b.status, "parent writes first: " + b.detail};
	return pass(first_of({a.detail, b.detail}));
}

}  // namespace odfb::checks
