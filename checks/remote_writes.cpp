// Memory written by another path than the process's own stores: through
// /proc/<pid>/mem (the ptrace and debugger path: FOLL_FORCE, so into
// read-only mappings too) and process_vm_writev, into base pages and THPs, in
// a process with ODF on, with and without a fork, then unmapped.  Under the
// 6.0.6 patch set a FOLL_FORCE write into a read-only THP of an ODF process,
// then munmap, gave `Bad page map` with no fork at all (odf-kernel-facts §4).
#include <csetjmp>
#include <csignal>
#include <sys/uio.h>

#include "thp_util.h"

namespace odfb::checks {
namespace {

enum class Path { ProcMem, VmWritev };
enum class Backing { Base, Thp };

// Writes word(tag, i) into the first and last word of page i at `page` of pid.
std::string poke(Path how, pid_t pid, char *page, uint32_t tag, uint64_t i)
{
	uint64_t v = word(tag, i);
	char *last = page + page_size() - 8;
	if (how == Path::ProcMem) {
		int fd = open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return fmt::format("open /proc/{}/mem: {}", pid, strerror(errno));
		bool ok = pwrite(fd, &v, 8, reinterpret_cast<off_t>(page)) == 8 && pwrite(fd, &v, 8, reinterpret_cast<off_t>(last)) == 8;
		int e = errno;
		close(fd);
		return ok ? "" : fmt::format("write to /proc/{}/mem at page {}: {}", pid, i, strerror(e));
	}
	iovec local[2] = {{&v, 8}, {&v, 8}}, remote[2] = {{page, 8}, {last, 8}};
	if (process_vm_writev(pid, local, 2, remote, 2, 0) != 16)
		return fmt::format("process_vm_writev to pid {} at page {}: {}", pid, i, strerror(errno));
	return "";
}

std::string poke_every(Path how, pid_t pid, Region &r, uint64_t which, uint32_t tag)
{
	for (uint64_t i = which; i < r.pages(); i += 4)
		if (auto e = poke(how, pid, r.page(i), tag, i); !e.empty())
			return e;
	return "";
}

sigjmp_buf g_fault;
void on_fault(int) { siglongjmp(g_fault, 1); }

// A plain store into a read-only page must still fault, and change nothing:
// the FOLL_FORCE write before it must not have left the page writable.
std::string store_faults(char *addr)
{
	struct sigaction sa {}, old {};
	sa.sa_handler = on_fault;
	sigaction(SIGSEGV, &sa, &old);
	uint64_t before, after;
	memcpy(&before, addr, 8);
	bool faulted = sigsetjmp(g_fault, 1) != 0;
	if (!faulted)
		*reinterpret_cast<volatile uint64_t *>(addr) = ~before;
	sigaction(SIGSEGV, &old, nullptr);
	memcpy(&after, addr, 8);
	if (!faulted)
		return "a plain store into a read-only page went through after a FOLL_FORCE write";
	return after == before ? "" : "a faulting store changed a read-only page";
}

// "" when the path exists in this kernel.
std::string path_missing(Path how)
{
	if (how == Path::VmWritev && process_vm_writev(getpid(), nullptr, 0, nullptr, 0, 0) != 0 && errno == ENOSYS)
		return "process_vm_writev: ENOSYS (a kernel without CONFIG_CROSS_MEMORY_ATTACH)";
	return "";
}

std::unique_ptr<Region> make_region(Backing b, std::string &why)
{
	if (b == Backing::Base)
		return std::make_unique<Region>(2 * kWindow);
	auto r = std::make_unique<ThpRegion>(2);
	why = r->unsupported_why();
	return r;
}

// No fork of the region: ODF is turned on by a fork (the 6.0.6 switch acts at
// the next clone) before the region exists; then the process writes into
// itself, checks every page and unmaps.
Verdict without_fork(CheckCtx &ctx, Path how, Backing b)
{
	if (auto why = path_missing(how); !why.empty())
		return unsupported(why);
	if (auto f = switch_on_by_fork(ctx); !f.empty())
		return fail(f);
	std::string why;
	auto r = make_region(b, why);
	if (!why.empty())
		return unsupported(why);
	if (how == Path::ProcMem && mprotect(r->p(), r->bytes(), PROT_READ) != 0)
		return fail(fmt::format("mprotect(PROT_READ): {}", strerror(errno)));
	std::string f = first_of({poke_every(how, getpid(), *r, 1, 31),
				  expect_pages(r->p(), r->pages(), [](uint64_t i) { return i % 4 == 1 ? 31 : 1; }, "the process"),
				  how == Path::ProcMem ? store_faults(r->page(1)) : ""});
	if (f.empty() && how == Path::ProcMem && b == Backing::Thp) {
		// A read-only THP range never touched: the FOLL_FORCE write populates it.
		Region fresh(kWindow, 0, 0, false);
		if (madvise(fresh.p(), kWindow, MADV_HUGEPAGE) != 0 || mprotect(fresh.p(), kWindow, PROT_READ) != 0)
			return fail(fmt::format("madvise/mprotect: {}", strerror(errno)));
		f = first_of({poke(how, getpid(), fresh.p(), 31, 0),
			      expect_pages(fresh.p(), fresh.pages(), [](uint64_t i) { return i == 0 ? 31 : 0; }, "the process (fresh range)"),
			      store_faults(fresh.p())});
	}
	if (munmap(r->p(), r->bytes()) != 0 && f.empty())
		f = fmt::format("munmap: {}", strerror(errno));
	r->release();
	return verdict_of(f);
}

// With a fork: the child writes into itself (pages 1 mod 4), the parent into
// itself (2 mod 4) and into the child (3 mod 4); each side checks every page.
Verdict with_fork(CheckCtx &ctx, Path how, Backing b)
{
	if (auto why = path_missing(how); !why.empty())
		return unsupported(why);
	std::string why;
	auto r = make_region(b, why);
	if (!why.empty())
		return unsupported(why);
	if (how == Path::ProcMem && mprotect(r->p(), r->bytes(), PROT_READ) != 0)
		return fail(fmt::format("mprotect(PROT_READ): {}", strerror(errno)));
	auto unmap = [&] {
		std::string e = munmap(r->p(), r->bytes()) == 0 ? "" : fmt::format("munmap: {}", strerror(errno));
		r->release();
		return e;
	};
	Duet d(ctx);
	if (d.is_child()) {
		std::string f = poke_every(how, getpid(), *r, 1, 32);
		d.hand_over();
		f = first_of({f,
			      expect_pages(r->p(), r->pages(), [](uint64_t i) { return i % 4 == 1 ? 32 : i % 4 == 3 ? 34 : 1; }, "the child"),
			      how == Path::ProcMem ? store_faults(r->page(3)) : ""});
		d.child_exit(first_of({f, unmap()}));
	}
	d.wait_turn();
	std::string g = first_of({expect_pages(r->p(), r->pages(), [](uint64_t) { return 1; }, "the parent after the child wrote"),
				  poke_every(how, getpid(), *r, 2, 33), poke_every(how, d.other(), *r, 3, 34)});
	std::string child = d.join();
	return verdict_of(first_of({child, g,
				    expect_pages(r->p(), r->pages(), [](uint64_t i) { return i % 4 == 2 ? 33 : 1; }, "the parent"),
				    unmap()}));
}

}  // namespace

ODFBENCH_CHECK({"procmem-ro", "remote-writes",
		"in a process with ODF on, /proc/self/mem writes into read-only base pages; a plain store still faults; munmap",
		[](CheckCtx &ctx) { return without_fork(ctx, Path::ProcMem, Backing::Base); }})
ODFBENCH_CHECK({"procmem-ro-thp", "remote-writes",
		"in a process with ODF on, /proc/self/mem writes into read-only THPs (populated, and never touched); munmap",
		[](CheckCtx &ctx) { return without_fork(ctx, Path::ProcMem, Backing::Thp); }})
ODFBENCH_CHECK({"procmem-ro-fork", "remote-writes",
		"after fork, /proc/<pid>/mem writes into read-only base pages: the child into itself, the parent into itself and the child",
		[](CheckCtx &ctx) { return with_fork(ctx, Path::ProcMem, Backing::Base); }})
ODFBENCH_CHECK({"procmem-ro-thp-fork", "remote-writes",
		"after fork, /proc/<pid>/mem writes into read-only THPs: the child into itself, the parent into itself and the child",
		[](CheckCtx &ctx) { return with_fork(ctx, Path::ProcMem, Backing::Thp); }})
ODFBENCH_CHECK({"vm-writev", "remote-writes", "in a process with ODF on, process_vm_writev into its own base pages; munmap",
		[](CheckCtx &ctx) { return without_fork(ctx, Path::VmWritev, Backing::Base); }})
ODFBENCH_CHECK({"vm-writev-thp", "remote-writes", "in a process with ODF on, process_vm_writev into its own THPs; munmap",
		[](CheckCtx &ctx) { return without_fork(ctx, Path::VmWritev, Backing::Thp); }})
ODFBENCH_CHECK({"vm-writev-fork", "remote-writes",
		"after fork, process_vm_writev into base pages: the child into itself, the parent into itself and the child",
		[](CheckCtx &ctx) { return with_fork(ctx, Path::VmWritev, Backing::Base); }})
ODFBENCH_CHECK({"vm-writev-thp-fork", "remote-writes",
		"after fork, process_vm_writev into THPs: the child into itself, the parent into itself and the child",
		[](CheckCtx &ctx) { return with_fork(ctx, Path::VmWritev, Backing::Thp); }})

}  // namespace odfb::checks
