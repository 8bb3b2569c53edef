// khugepaged collapsing base pages into a THP in a range whose PTE table a
// fork shares (under ODF: the table itself; under fork: the pages).  odfbench
// makes khugepaged scan every 10 ms for this check and lets it collapse
// ranges of shared pages (check/host_setup.h), then restores its settings.
// Under the 6.0.6 patch set khugepaged was seen to deadlock in handle_cow_pte
// after a PTE-mapped THP was forked under ODF (odf-kernel-facts §4).
#include <map>
#include <sstream>

#include "base/sysinfo.h"
#include "check/host_setup.h"
#include "thp_util.h"

namespace odfb::checks {
namespace {

int64_t khugepaged_counter(const char *name)
{
	std::string s = read_text(fmt::format("/sys/kernel/mm/transparent_hugepage/khugepaged/{}", name));
	return s.empty() ? -1 : std::stoll(s);
}

// AnonHugePages of /proc/meminfo in kB: machine-wide, so no page table of
// ours is walked (a hazard under ODF, see proc-readers).
int64_t anon_huge_kb()
{
	std::string s = read_text("/proc/meminfo");
	auto at = s.find("AnonHugePages:");
	return at == std::string::npos ? -1 : std::stoll(s.substr(at + 14));
}

// khugepaged's /proc/vmstat counters (thp_collapse_*, thp_scan_exceed_*).
std::map<std::string, int64_t> collapse_stats()
{
	std::map<std::string, int64_t> m;
	std::istringstream in(read_text("/proc/vmstat"));
	std::string k;
	int64_t v;
	while (in >> k >> v)
		if (k.rfind("thp_collapse", 0) == 0 || k.rfind("thp_scan_exceed", 0) == 0)
			m[k] = v;
	return m;
}

std::string stats_delta(const std::map<std::string, int64_t> &before)
{
	std::string out;
	for (const auto &[k, v] : collapse_stats())
		if (auto it = before.find(k); it != before.end() && v != it->second)
			out += fmt::format("{}{} {:+}", out.empty() ? "" : ", ", k, v - it->second);
	return out.empty() ? "no thp_collapse/thp_scan_exceed counter moved" : out;
}


// Rewrites page i of `pid` with the data it holds, through /proc/<pid>/mem.
std::string rewrite_in(pid_t pid, char *page, uint64_t i)
{
	int fd = open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC);
	uint64_t v = word(1, i);
	bool ok = fd >= 0 && pwrite(fd, &v, 8, reinterpret_cast<off_t>(page)) == 8;
	int e = errno;
	if (fd >= 0)
		close(fd);
	return ok ? "" : fmt::format("writing /proc/{}/mem: {}", pid, strerror(e));
}

// Fork a region in the state `r` and `before` describe (MADV_HUGEPAGE, its
// PTEs old: clear_refs 1 before the madvise, so khugepaged, woken by it,
// collapses nothing before the fork); let khugepaged scan both processes
// while they sit still; then each side writes and checks every page.
Verdict collapse_after_fork(CheckCtx &ctx, Region &r, const std::function<int64_t(uint64_t)> &before)
{
	uint64_t per = kWindow / page_size();
	int64_t scans0 = khugepaged_counter("full_scans"), collapsed0 = khugepaged_counter("pages_collapsed");
	int64_t huge0 = anon_huge_kb();
	auto stats0 = collapse_stats();
	if (scans0 < 0 || collapsed0 < 0)
		return unsupported("no khugepaged counters (full_scans, pages_collapsed)");
	auto settle = [&](pid_t child) -> Verdict {
		if (auto f = expect_pages(r.p(), r.pages(), before, "the parent after fork"); !f.empty())
			return fail(f);  // and these reads make its PTEs young, as the child's did
		// A classic fork write-protects every PTE, and khugepaged leaves a
		// range without a writable PTE alone (6.0, 6.12): each side rewrites
		// one page per 2 MiB with the data it holds (the child's through
		// /proc/<child>/mem).  Not under ODF: its shared table keeps writable
		// PTEs, and a write would unshare it.
		if (ctx.mode() == Mode::Fork)
			for (uint64_t i = 1; i < r.pages(); i += per) {
				set_page(r.p(), i, 1);
				if (auto e = rewrite_in(child, r.page(i), i); !e.empty())
					return fail(e);
			}
		// Until every 2 MiB of both processes is collapsed, or 4 full scans
		// (each process scanned after the fork) and 2 s.
		uint64_t t0 = now_ns(), want = 2 * r.bytes() / kWindow;
		auto waited = [&] { return now_ns() - t0; };
		while (waited() < 20'000'000'000ull && khugepaged_counter("pages_collapsed") - collapsed0 < static_cast<int64_t>(want) &&
		       (khugepaged_counter("full_scans") < scans0 + 4 || waited() < 2'000'000'000ull))
			usleep(20000);
		int64_t scans = khugepaged_counter("full_scans") - scans0;
		int64_t collapsed = khugepaged_counter("pages_collapsed") - collapsed0, huge = anon_huge_kb() - huge0;
		std::string moved = stats_delta(stats0);
		double s = waited() / 1e9;
		if (collapsed > 0)
			return pass(fmt::format("khugepaged collapsed {} huge pages machine-wide in {} full scans ({:.1f} s); "
						"AnonHugePages {:+} kB; {}",
						collapsed, scans, s, huge, moved));
		if (moved.find("thp_collapse_alloc +") == std::string::npos)
			return unsupported(fmt::format("khugepaged collapsed nothing in {} full scans ({:.1f} s): the case was not reached ({})",
						       scans, s, moved));
		// It tried (allocated huge pages) and gave up: the pages must still be right.
		return pass(fmt::format("khugepaged tried and collapsed nothing in {} full scans ({:.1f} s): {}", scans, s, moved));
	};
	Verdict v = write_both_sides(ctx, {{r.p(), r.pages(), before}}, First::Child, settle);
	r.release();
	return v;
}

std::string old_then_hugepage(Region &r)
{
	if (!write_text("/proc/self/clear_refs", "1"))
		return "/proc/self/clear_refs is not writable";
	if (madvise(r.p(), r.bytes(), MADV_HUGEPAGE) != 0)
		return fmt::format("madvise(MADV_HUGEPAGE): {}", strerror(errno));
	return "";
}

}  // namespace

ODFBENCH_CHECK({"khugepaged-collapse-shared", "khugepaged",
		"base pages in a MADV_HUGEPAGE range (one page per 2 MiB left empty), forked; khugepaged collapses them while "
		"parent and child share them, then each side writes and checks every page",
		[](CheckCtx &ctx) {
			if (auto why = thp_missing(); !why.empty())
				return unsupported(why);
			Region r(2 * kWindow);  // faulted as base pages (MADV_NOHUGEPAGE), filled
			uint64_t per = kWindow / page_size();
			// An empty PTE per table: a classic fork then shares 511 pages, within max_ptes_shared.
			for (uint64_t off = 0; off < r.bytes(); off += kWindow)
				if (madvise(r.p() + off, page_size(), MADV_DONTNEED) != 0)
					return fail(fmt::format("madvise(MADV_DONTNEED): {}", strerror(errno)));
			if (auto e = old_then_hugepage(r); !e.empty())
				return unsupported(e);
			return collapse_after_fork(ctx, r, [=](uint64_t i) { return i % per == 0 ? 0 : 1; });
		},
		false, {kNeedKhugepaged}})

ODFBENCH_CHECK({"khugepaged-pte-mapped-thp", "khugepaged",
		"two PTE-mapped THPs, forked; khugepaged collapses them back into PMD mappings while parent and child share "
		"them, then each side writes and checks every page",
		[](CheckCtx &ctx) {
			ThpRegion r(2);
			if (!r.unsupported_why().empty())
				return unsupported(r.unsupported_why());
			// A classic fork shares all 512 pages, over max_ptes_shared's 511: one left empty.
			for (uint64_t off = 0; off < r.bytes(); off += kWindow)
				if (madvise(r.p() + off, page_size(), MADV_DONTNEED) != 0)
					return fail(fmt::format("madvise(MADV_DONTNEED): {}", strerror(errno)));
			if (auto e = pte_map(r); !e.empty())
				return fail(e);
			if (auto e = old_then_hugepage(r); !e.empty())
				return unsupported(e);
			uint64_t per = kWindow / page_size();
			return collapse_after_fork(ctx, r, [=](uint64_t i) { return i % per == 0 ? 0 : 1; });
		},
		false, {kNeedKhugepaged}})

}  // namespace odfb::checks
