// Mappings that must stay shared (MAP_SHARED anonymous, shmem) and private
// file mappings that must stay private, across fork.
#include <sys/mman.h>
#include <sys/stat.h>

#include "check_util.h"

namespace odfb::checks {
namespace {

// The child writes tag 2 to the edge pages of a shared mapping; the parent
// must see them.
Verdict stays_shared(CheckCtx &ctx, int fd)
{
	uint64_t bytes = 4 * kWindow;
	if (fd >= 0 && ftruncate(fd, static_cast<off_t>(bytes)) != 0)
		return fail(fmt::format("ftruncate: {}", strerror(errno)));
	char *p = static_cast<char *>(
		mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0));
	if (p == MAP_FAILED)
		return fail(fmt::format("mmap(MAP_SHARED): {}", strerror(errno)));
	fill_pages(p, bytes, 1);
	auto edges = edge_pages(bytes / page_size());
	std::string f = ctx.in_child([&] {
		for (uint64_t i : edges)
			set_page(p, i, 2);
		return std::string();
	});
	std::string g = expect_pages(p, bytes / page_size(), [&](uint64_t i) { return edges.count(i) ? 2 : 1; },
				     "the parent (of the child's writes to a shared mapping)");
	munmap(p, bytes);
	return verdict_of(first_of({f, g}));
}

}  // namespace

ODFBENCH_CHECK({"shared-anonymous", "sharing", "MAP_SHARED|MAP_ANONYMOUS stays shared: the parent sees the child's writes",
		[](CheckCtx &ctx) { return stays_shared(ctx, -1); }})

ODFBENCH_CHECK({"shmem-memfd", "sharing", "shmem (memfd) stays shared: the parent sees the child's writes", [](CheckCtx &ctx) {
			int fd = memfd_create("odfbench-check", MFD_CLOEXEC);
			if (fd < 0)
				return unsupported(fmt::format("memfd_create: {}", strerror(errno)));
			Verdict v = stays_shared(ctx, fd);
			close(fd);
			return v;
		}})

ODFBENCH_CHECK({"private-file", "sharing",
		"MAP_PRIVATE of a file: the child's writes reach neither the parent nor the file", [](CheckCtx &ctx) {
			uint64_t bytes = 4 * kWindow;
			int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
			if (fd < 0)
				return unsupported(fmt::format("O_TMPFILE in /tmp: {}", strerror(errno)));
			std::string data(bytes, '\0');
			fill_pages(data.data(), bytes, 1);
			if (pwrite(fd, data.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
				close(fd);
				return fail(fmt::format("pwrite: {}", strerror(errno)));
			}
			char *p = static_cast<char *>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
			if (p == MAP_FAILED) {
				close(fd);
				return fail(fmt::format("mmap: {}", strerror(errno)));
			}
			std::string f0 = expect_pages(p, bytes / page_size(), [](uint64_t) { return 1; }, "the parent (faulting in)");
			set_page(p, 7, 3);  // the parent's own private copy of one page, before fork
			auto edges = edge_pages(bytes / page_size());
			std::string f = ctx.in_child([&] {
				for (uint64_t i : edges)
					set_page(p, i, 2);
				return expect_pages(p, bytes / page_size(), [&](uint64_t i) { return edges.count(i) ? 2 : i == 7 ? 3 : 1; },
						    "the child");
			});
			std::string g = expect_pages(p, bytes / page_size(), [](uint64_t i) { return i == 7 ? 3 : 1; }, "the parent");
			std::string file(bytes, '\0');
			std::string h;
			if (pread(fd, file.data(), bytes, 0) != static_cast<ssize_t>(bytes))
				h = fmt::format("pread: {}", strerror(errno));
			else
				h = expect_pages(file.data(), bytes / page_size(), [](uint64_t) { return 1; }, "the file");
			munmap(p, bytes);
			close(fd);
			return verdict_of(first_of({f0, f, g, h}));
		}})

}  // namespace odfb::checks
