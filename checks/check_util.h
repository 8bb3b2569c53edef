// Shared by the checks: aligned test regions, per-page values, and a parent
// and child that take turns.
#pragma once
#include <cerrno>
#include <cstdint>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "check/check.h"

namespace odfb::checks {

inline constexpr uint64_t kWindow = 2ull << 20;  // one PTE table maps 2 MiB
inline long page_size() { return sysconf(_SC_PAGESIZE); }

// Private anonymous memory aligned to 2 MiB, so tests can aim at the edges of
// the PTE tables ODF shares.  Every page holds (tag << 32 | index).
class Region {
public:
	explicit Region(uint64_t bytes, uint32_t tag = 1, int extra_flags = 0, bool fill = true) : bytes_(bytes)
	{
		void *raw = mmap(nullptr, bytes + kWindow, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
		if (raw == MAP_FAILED)
			throw std::runtime_error(fmt::format("mmap: {}", strerror(errno)));
		uintptr_t a = (reinterpret_cast<uintptr_t>(raw) + kWindow - 1) & ~(kWindow - 1);
		uintptr_t head = a - reinterpret_cast<uintptr_t>(raw);
		if (head)
			munmap(raw, head);
		if (kWindow - head)
			munmap(reinterpret_cast<char *>(a) + bytes, kWindow - head);
		p_ = reinterpret_cast<char *>(a);
		madvise(p_, bytes_, MADV_NOHUGEPAGE);
		if (fill)
			fill_pages(p_, bytes_, tag);
	}
	virtual ~Region()
	{
		if (p_)
			munmap(p_, bytes_);
	}
	Region(const Region &) = delete;
	Region &operator=(const Region &) = delete;
	char *p() const { return p_; }
	uint64_t bytes() const { return bytes_; }
	uint64_t pages() const { return bytes_ / page_size(); }
	char *page(uint64_t i) const { return p_ + i * page_size(); }
	void release() { p_ = nullptr; }  // after munmap/mremap by the test

private:
	char *p_ = nullptr;
	uint64_t bytes_;
};

inline std::string read_text(const std::string &path)
{
	std::ifstream in(path);
	return {std::istreambuf_iterator<char>(in), {}};
}

inline bool write_text(const std::string &path, const std::string &v)
{
	std::ofstream out(path);
	out << v;
	out.flush();
	return static_cast<bool>(out);
}

inline uint64_t word(uint32_t tag, uint64_t i) { return (static_cast<uint64_t>(tag) << 32) | i; }

inline void set_page(char *base, uint64_t i, uint32_t tag)
{
	uint64_t v = word(tag, i);
	memcpy(base + i * page_size(), &v, 8);
	memcpy(base + (i + 1) * page_size() - 8, &v, 8);
}

inline constexpr int64_t kSkip = -1;  // a page a check does not look at (unmapped, say)

// "" if page i holds word(tag_of(i), i) for every i in [0, n) (kSkip: not
// looked at; 0 as tag means a zero-filled page), else the first that does not.
inline std::string expect_pages(const char *base, uint64_t n, const std::function<int64_t(uint64_t)> &tag_of,
				const char *who)
{
	for (uint64_t i = 0; i < n; ++i) {
		int64_t tag = tag_of(i);
		if (tag == kSkip)
			continue;
		uint64_t a, b, want = tag == 0 ? 0 : word(static_cast<uint32_t>(tag), i);
		memcpy(&a, base + i * page_size(), 8);
		memcpy(&b, base + (i + 1) * page_size() - 8, 8);
		if (a != want || b != want)
			return fmt::format("{} sees page {} as {:#x}, expected {:#x}", who, i, a, want);
	}
	return "";
}

// Pages on both sides of every 2 MiB edge, plus the first and the last.
inline std::set<uint64_t> edge_pages(uint64_t pages)
{
	uint64_t per = kWindow / page_size();
	std::set<uint64_t> s = {0, pages - 1};
	for (uint64_t e = per; e < pages; e += per) {
		s.insert(e - 1);
		s.insert(e);
	}
	return s;
}

// A parent and one child taking turns: each side runs until it hands over.
class Duet {
public:
	explicit Duet(CheckCtx &ctx) : ctx_(ctx)
	{
		if (pipe2(p2c_, O_CLOEXEC) || pipe2(c2p_, O_CLOEXEC) || pipe2(verdict_, O_CLOEXEC))
			throw std::runtime_error(fmt::format("pipe: {}", strerror(errno)));
		pid_ = ctx_.fork_raw();
		if (pid_ < 0)
			throw std::runtime_error(fmt::format("fork: {}", strerror(errno)));
		// Each side keeps only its own ends, so a side that exits reads as EOF.
		auto drop = [](int &fd) {
			close(fd);
			fd = -1;
		};
		if (pid_ == 0) {
			drop(p2c_[1]);
			drop(c2p_[0]);
			drop(verdict_[0]);
			ctx_.child_started();
		} else {
			drop(p2c_[0]);
			drop(c2p_[1]);
		}
	}
	~Duet()
	{
		for (int fd : {p2c_[0], p2c_[1], c2p_[0], c2p_[1], verdict_[0], verdict_[1]})
			if (fd >= 0)
				close(fd);
	}
	bool is_child() const { return pid_ == 0; }
	pid_t other() const { return is_child() ? getppid() : pid_; }  // the other side's pid
	// Hand the turn to the other side and wait until it hands it back.
	void hand_over()
	{
		char c = 't';
		(void)!write(is_child() ? c2p_[1] : p2c_[1], &c, 1);
		wait_turn();
	}
	void wait_turn()
	{
		char c;
		if (read(is_child() ? p2c_[0] : c2p_[0], &c, 1) != 1)
			_exit_if_child();
	}
	// Child: report and exit.  Failures accumulate: the first one is kept.
	[[noreturn]] void child_exit(const std::string &verdict)
	{
		std::string v = verdict.empty() ? "ok" : verdict;
		(void)!write(verdict_[1], v.data(), v.size());
		_exit(0);
	}
	// Parent: let the child finish, collect its verdict.
	std::string join()
	{
		close(verdict_[1]);
		verdict_[1] = -1;
		char c = 'e';
		(void)!write(p2c_[1], &c, 1);
		std::string v;
		char buf[512];
		ssize_t n;
		while ((n = read(verdict_[0], buf, sizeof(buf))) > 0)
			v.append(buf, static_cast<size_t>(n));
		int status = 0;
		waitpid(pid_, &status, 0);
		if (WIFSIGNALED(status))
			return fmt::format("the child died by signal {}", WTERMSIG(status));
		if (v.empty())
			return "the child ended without a verdict";
		return v == "ok" ? "" : v;
	}

private:
	void _exit_if_child()
	{
		if (is_child())
			_exit(3);
	}
	CheckCtx &ctx_;
	pid_t pid_ = -1;
	int p2c_[2] = {-1, -1}, c2p_[2] = {-1, -1}, verdict_[2] = {-1, -1};
};

// The first non-empty of several findings, each tagged by who found it.
inline std::string first_of(std::initializer_list<std::string> findings)
{
	for (const auto &f : findings)
		if (!f.empty())
			return f;
	return "";
}

inline Verdict verdict_of(const std::string &finding) { return finding.empty() ? pass() : fail(finding); }

}  // namespace odfb::checks

namespace odfb::checks {

// The common shape: fork; the child runs `op`, the parent checks that its own
// view did not change and writes tag 5 to the edge pages, then the child checks
// its view with `child_tag` (the parent's writes must stay invisible), and the
// parent checks its view once more.
inline Verdict op_after_fork(CheckCtx &ctx, Region &r, const std::function<std::string(Region &)> &op,
			     const std::function<int64_t(uint64_t)> &child_tag)
{
	auto edges = edge_pages(r.pages());
	Duet d(ctx);
	if (d.is_child()) {
		std::string f = op(r);
		d.hand_over();
		if (f.empty())
			f = expect_pages(r.p(), r.pages(), child_tag, "the child");
		d.child_exit(f);
	}
	d.wait_turn();
	std::string before = expect_pages(r.p(), r.pages(), [](uint64_t) { return 1; }, "the parent (after the child's operation)");
	for (uint64_t i : edges)
		set_page(r.p(), i, 5);
	std::string child = d.join();
	std::string after = expect_pages(r.p(), r.pages(), [&](uint64_t i) { return edges.count(i) ? 5 : 1; }, "the parent");
	return verdict_of(first_of({child, before, after}));
}

}  // namespace odfb::checks
