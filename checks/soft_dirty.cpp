// The soft-dirty bit after fork (what CRIU's incremental dumps rely on): after
// clear_refs, a page written by any path (a plain write, a write after
// mprotect, a FOLL_FORCE write through /proc/<pid>/mem) is soft-dirty and
// the pages not written are not.  clear_refs and pagemap walk the child's
// page tables, which ODF shares.
#include "cow_util.h"

namespace odfb::checks {
namespace {

// "" when this kernel tracks soft-dirty; asked before any fork.
std::string soft_dirty_missing()
{
	Region cal(kWindow);
	if (!write_text("/proc/self/clear_refs", "4"))
		return "/proc/self/clear_refs not writable";
	set_page(cal.p(), 1, 2);
	if (!(pagemap_entry(cal.page(1)) & kSoftDirty))
		return "no soft-dirty tracking here (CONFIG_MEM_SOFT_DIRTY off)";
	return "";
}

// Page w soft-dirty, page u not.
std::string expect_dirty(Region &r, uint64_t w, uint64_t u, const char *how)
{
	uint64_t ew = pagemap_entry(r.page(w)), eu = pagemap_entry(r.page(u));
	if (!(ew & kSoftDirty))
		return fmt::format("the page written {} is not soft-dirty", how);
	if (eu & kSoftDirty)
		return fmt::format("an untouched page is soft-dirty after clear_refs ({})", how);
	return "";
}

bool mem_write(pid_t pid, char *addr, uint32_t tag, uint64_t i)
{
	int fd = open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	uint64_t v = word(tag, i);
	bool ok = pwrite(fd, &v, 8, reinterpret_cast<off_t>(addr)) == 8 &&
		  pwrite(fd, &v, 8, reinterpret_cast<off_t>(addr + page_size() - 8)) == 8;
	close(fd);
	return ok;
}

}  // namespace

ODFBENCH_CHECK({"soft-dirty", "soft-dirty", "clear_refs then a write: only the written page is soft-dirty in an ODF child",
		[](CheckCtx &ctx) {
			if (auto why = soft_dirty_missing(); !why.empty())
				return unsupported(why);
			Region r(4 * kWindow);
			uint64_t w = r.pages() / 2 + 5, u = r.pages() / 2 + 9;
			std::string f = ctx.in_child([&]() -> std::string {
				if (!write_text("/proc/self/clear_refs", "4"))
					return "clear_refs write failed";
				set_page(r.p(), w, 3);
				return first_of({expect_dirty(r, w, u, "plainly"),
						 expect_pages(r.p(), r.pages(), [&](uint64_t i) { return i == w ? 3 : 1; }, "the child")});
			});
			return verdict_of(first_of({f, expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the parent")}));
		}})

ODFBENCH_CHECK({"soft-dirty-mprotect", "soft-dirty",
		"in a child, clear_refs, mprotect read-only then writable, write: the write faults and marks the page soft-dirty",
		[](CheckCtx &ctx) {
			if (auto why = soft_dirty_missing(); !why.empty())
				return unsupported(why);
			Region r(4 * kWindow);
			uint64_t w = r.pages() / 2 + 5, u = r.pages() / 2 + 9;
			std::string f = ctx.in_child([&]() -> std::string {
				if (!write_text("/proc/self/clear_refs", "4"))
					return "clear_refs write failed";
				// mprotect must not hand back writable PTEs that skip the soft-dirty fault.
				if (mprotect(r.p(), r.bytes(), PROT_READ) != 0 || mprotect(r.p(), r.bytes(), PROT_READ | PROT_WRITE) != 0)
					return fmt::format("mprotect: {}", strerror(errno));
				set_page(r.p(), w, 3);
				return first_of({expect_dirty(r, w, u, "after mprotect"),
						 expect_pages(r.p(), r.pages(), [&](uint64_t i) { return i == w ? 3 : 1; }, "the child")});
			});
			return verdict_of(first_of({f, expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the parent")}));
		}})

ODFBENCH_CHECK({"soft-dirty-procmem", "soft-dirty",
		"a child clears soft-dirty; its parent writes one page through /proc/<child>/mem and the child one through "
		"/proc/self/mem: both are soft-dirty in the child, a third is not, the parent sees none of it",
		[](CheckCtx &ctx) {
			if (auto why = soft_dirty_missing(); !why.empty())
				return unsupported(why);
			Region r(4 * kWindow);
			uint64_t w = r.pages() / 2 + 5, w2 = r.pages() / 2 + 7, u = r.pages() / 2 + 9;
			Duet d(ctx);
			if (d.is_child()) {
				if (!write_text("/proc/self/clear_refs", "4"))
					d.child_exit("clear_refs write failed");
				d.hand_over();  // the parent writes page w
				if (!mem_write(getpid(), r.page(w2), 4, w2))
					d.child_exit(fmt::format("writing /proc/self/mem: {}", strerror(errno)));
				d.child_exit(first_of({expect_dirty(r, w, u, "by the parent through /proc/<child>/mem"),
						       expect_dirty(r, w2, u, "through /proc/self/mem"),
						       expect_pages(r.p(), r.pages(), [&](uint64_t i) { return i == w ? 3 : i == w2 ? 4 : 1; },
								    "the child")}));
			}
			d.wait_turn();
			std::string g = mem_write(d.other(), r.page(w), 3, w) ? "" : fmt::format("writing /proc/<child>/mem: {}", strerror(errno));
			std::string child = d.join();
			return verdict_of(first_of({child, g, expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the parent")}));
		}})

}  // namespace odfb::checks
