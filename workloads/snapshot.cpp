// snapshot: a process holding `size` serves an open-loop stream of page reads
// and writes (harness/run/open_loop.h, the client design of redis-snapshot) while
// it writes a consistent snapshot of its memory to a file.  The strategy is
// the mode:
//   fork, odf, odf-procfs  the server thread forks; the child writes the file
//                          and exits (Redis's BGSAVE pattern);
//   uffd-wp                no fork: the server thread write-protects the region
//                          with userfaultfd; a copier thread writes pages out
//                          in order, lifting the protection behind it, and a
//                          fault-handling thread copies a page the server is
//                          about to write (if not yet saved), then lifts it.
// Every snapshot is verified: each page of the file against the content the
// server's record says the page had at the snapshot point.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <linux/userfaultfd.h>
#include <mutex>
#include <poll.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "run/fork_trial.h"
#include "run/open_loop.h"
#include "base/sysinfo.h"
#include "run/workload.h"

namespace odfb {
namespace {

uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}
// A page's content at a version: determined by (page, version) alone, so the
// record the server keeps is one version number per page.
void fill_page(uint64_t *w, size_t words, uint64_t page, uint64_t ver)
{
	uint64_t seed = mix(page * 0x100000001b3ull ^ (ver << 1));
	w[0] = ver;
	w[1] = page;
	for (size_t i = 2; i < words; ++i)
		w[i] = seed + i * 0x9e3779b97f4a7c15ull;
}
uint64_t checksum(const uint64_t *w, size_t words)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < words; ++i)
		h = mix(h ^ w[i]);
	return h;
}

struct Req {
	uint32_t page;
	uint32_t write;
};

struct LogEntry {
	uint32_t page;
	uint32_t old_ver;
};

class Snapshot final : public Workload {
public:
	std::string description() const override
	{
		return "a server holding `size` takes a consistent snapshot of it to a file under open-loop page reads and writes";
	}
	std::vector<Metric> metrics() const override
	{
		std::vector<Metric> m{Metric::ns("during_p999_ns"), Metric::ns("snapshot_ns"), Metric::ns("snapshot_start_ns")};
		for (const char *phase : {"during", "before", "after"})
			for (const char *q : {"p50", "p99", "p999", "max"})
				if (std::string(phase) != "during" || std::string(q) != "p999")
					m.push_back(Metric::ns(fmt::format("{}_{}_ns", phase, q)));
		m.push_back(Metric::rate("snapshot_bytes_per_s"));
		m.push_back(Metric::count("pages_written_during"));
		m.push_back(Metric::count("pages_copied"));
		m.push_back(Metric::bytes("extra_bytes"));
		m.push_back(Metric::bytes("child_pgtables_bytes"));
		m.push_back(Metric::count("server_minflt_during"));
		m.push_back(Metric::flag("snapshot_verified"));
		m.push_back(Metric::flag("odf_verified"));
		return m;
	}
	std::string not_applicable(Mode m) const override
	{
		return m == Mode::UffdWp ? "" : Workload::not_applicable(m);
	}
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items()) {
			if (k != "rate" && k != "write_fraction" && k != "connections" && k != "baseline_ms" && k != "after_ms" &&
			    k != "bin_ms")
				throw std::invalid_argument(fmt::format(
					"params.{}: unknown parameter for snapshot (known: rate, write_fraction, connections, baseline_ms, after_ms, bin_ms)", k));
			if (!v.is_number())
				throw std::invalid_argument(fmt::format("params.{}: must be a number", k));
		}
		double rate = p.extra.value("rate", 4000.0), wf = p.extra.value("write_fraction", 0.2);
		int conns = p.extra.value("connections", 4);
		if (!(rate > 0 && rate <= 1e6))
			throw std::invalid_argument("params.rate: must be in (0, 1e6]");
		if (!(wf >= 0 && wf <= 1))
			throw std::invalid_argument("params.write_fraction: must be in [0, 1]");
		if (conns < 1 || conns > 64)
			throw std::invalid_argument("params.connections: must be 1 to 64");
		for (const char *k : {"baseline_ms", "after_ms", "bin_ms"})
			if (p.extra.value(k, 1) < 1 || p.extra.value(k, 1) > 600000)
				throw std::invalid_argument(fmt::format("params.{}: must be 1 to 600000", k));
		if (p.size_bytes < (1ull << 20))
			throw std::invalid_argument("size: snapshot needs at least 1M");
	}
	// The region, the file's page cache, and at worst a copy of every page.
	uint64_t footprint(const Params &p) const override { return p.size_bytes * 3 + (64ull << 20); }

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		rate_ = p.extra.value("rate", 4000.0);
		wf_ = p.extra.value("write_fraction", 0.2);
		conns_ = p.extra.value("connections", 4);
		baseline_ms_ = p.extra.value("baseline_ms", 500);
		after_ms_ = p.extra.value("after_ms", 500);
		bin_ms_ = p.extra.value("bin_ms", 10);
		region_ = std::make_unique<Region>(p.size_bytes, false);
		page_ = static_cast<size_t>(region_->page_size());
		npages_ = region_->pages();
		ver_.assign(npages_, 0);
		for (uint64_t i = 0; i < npages_; ++i)
			fill_page(page_ptr(i), page_ / 8, i, 0);
		// The write log, touched now: growing it during the snapshot would add
		// the server's own page faults to the copy-on-write count.
		log_.resize(1 << 20);
		log_.clear();
		std::filesystem::create_directories(env.scratch);
		MissingMetrics missing(env);
		missing.need("sched_process_fork", {"child_pgtables_bytes"});
		auto j = region_->setup_json();
		j["missing_metrics"] = missing.json();
		j["load"] = {{"rate", rate_}, {"write_fraction", wf_}, {"connections", conns_}, {"baseline_ms", baseline_ms_},
			     {"after_ms", after_ms_}, {"bin_ms", bin_ms_}};
		return j;
	}

	nlohmann::json trial(TrialEnv &env, const Params &) override;

private:
	uint64_t *page_ptr(uint64_t i) const { return reinterpret_cast<uint64_t *>(region_->data() + i * page_); }
	void serve(const std::vector<int> &fds, int ctl_fd);
	void take_snapshot_fork(TrialEnv &env);
	void take_snapshot_uffd();
	void uffd_copier();
	void uffd_handler();
	bool save_page(uint64_t i, bool by_handler);
	void unprotect(uint64_t first, uint64_t n);

	double rate_ = 4000, wf_ = 0.2;
	int conns_ = 4, baseline_ms_ = 500, after_ms_ = 500, bin_ms_ = 10;
	std::unique_ptr<Region> region_;
	size_t page_ = 4096;
	uint64_t npages_ = 0;
	std::vector<uint32_t> ver_;  // the server's record: each page's version now

	// One trial's state.
	Mode mode_ = Mode::Fork;
	TrialEnv *env_ = nullptr;
	std::string path_;
	int file_fd_ = -1;
	std::atomic<bool> snap_requested_{false}, snap_ended_{false}, stop_{false};
	std::atomic<uint64_t> t_snap_start_{0}, t_snap_started_{0};
	std::atomic<int> snap_error_{0};
	std::string snap_error_text_;
	std::vector<LogEntry> log_;  // writes after the snapshot point, in order
	bool logging_ = false;
	size_t log_at_end_ = SIZE_MAX;
	long minflt_start_ = 0, minflt_end_ = -1;
	pid_t child_ = -1;
	// uffd-wp
	int uffd_ = -1, stop_efd_ = -1;
	std::unique_ptr<std::atomic<uint8_t>[]> state_;  // 0 unsaved, 1 being saved, 2 saved
	std::atomic<uint64_t> copied_by_copier_{0}, copied_by_handler_{0}, wp_faults_{0};
	std::thread copier_, handler_;
	std::atomic<bool> copier_done_{false};
};

void Snapshot::serve(const std::vector<int> &fds, int ctl_fd)
{
	std::vector<pollfd> pf;
	for (int fd : fds)
		pf.push_back({fd, POLLIN, 0});
	pf.push_back({ctl_fd, POLLIN, 0});
	std::vector<uint64_t> tmp(page_ / 8);
	while (!stop_.load()) {
		if (poll(pf.data(), pf.size(), 50) < 0 && errno != EINTR)
			break;
		if (pf.back().revents & POLLIN) {
			uint64_t v;
			(void)!read(ctl_fd, &v, sizeof(v));
			if (snap_requested_.exchange(false)) {
				struct rusage ru;
				getrusage(RUSAGE_THREAD, &ru);
				minflt_start_ = ru.ru_minflt;
				logging_ = true;
				t_snap_start_ = now_ns();
				if (mode_ == Mode::UffdWp)
					take_snapshot_uffd();
				else
					take_snapshot_fork(*env_);
				t_snap_started_ = now_ns();
			}
		}
		if (snap_ended_.load() && log_at_end_ == SIZE_MAX) {
			struct rusage ru;
			getrusage(RUSAGE_THREAD, &ru);
			minflt_end_ = ru.ru_minflt;
			log_at_end_ = log_.size();
		}
		for (size_t c = 0; c + 1 < pf.size(); ++c) {
			if (!(pf[c].revents & POLLIN))
				continue;
			Req r;
			if (read(pf[c].fd, &r, sizeof(r)) != sizeof(r))
				continue;
			uint64_t reply = 1;
			if (r.page >= npages_) {
				reply = 0;
			} else if (r.write) {
				uint32_t v = ver_[r.page] + 1;
				if (logging_)
					log_.push_back({r.page, ver_[r.page]});
				ver_[r.page] = v;
				fill_page(page_ptr(r.page), page_ / 8, r.page, v);
			} else {
				const uint64_t *w = page_ptr(r.page);
				reply = w[0] == ver_[r.page] && w[1] == r.page;
			}
			(void)!write(pf[c].fd, &reply, sizeof(reply));
		}
	}
}

void Snapshot::take_snapshot_fork(TrialEnv &env)
{
	pid_t pid = env.fork_fn();
	if (pid == 0) {
		// The child: only this thread exists.  Write the region as it is now.
		const char *p = region_->data();
		uint64_t n = region_->bytes(), off = 0;
		while (off < n) {
			ssize_t w = pwrite(file_fd_, p + off, std::min<uint64_t>(n - off, 1 << 20), static_cast<off_t>(off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(2);
			off += static_cast<uint64_t>(w);
		}
		_exit(0);
	}
	if (pid < 0) {
		snap_error_text_ = fmt::format("fork: {}", std::strerror(errno));
		snap_error_ = 1;
	}
	child_ = pid;
}

bool Snapshot::save_page(uint64_t i, bool by_handler)
{
	uint8_t expect = 0;
	if (!state_[i].compare_exchange_strong(expect, 1))
		return false;
	if (pwrite(file_fd_, region_->data() + i * page_, page_, static_cast<off_t>(i * page_)) != static_cast<ssize_t>(page_)) {
		snap_error_text_ = fmt::format("snapshot write: {}", std::strerror(errno));
		snap_error_ = 1;
	}
	state_[i].store(2);
	(by_handler ? copied_by_handler_ : copied_by_copier_)++;
	return true;
}

void Snapshot::unprotect(uint64_t first, uint64_t n)
{
	struct uffdio_writeprotect wp {};
	wp.range.start = reinterpret_cast<uint64_t>(region_->data()) + first * page_;
	wp.range.len = n * page_;
	wp.mode = 0;  // lift, and wake whoever waits on these pages
	if (ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp) != 0 && !snap_error_.exchange(1))
		snap_error_text_ = fmt::format("UFFDIO_WRITEPROTECT (lift): {}", std::strerror(errno));
}

void Snapshot::uffd_copier()
{
	constexpr uint64_t kChunk = 64;
	for (uint64_t c = 0; c < npages_; c += kChunk) {
		uint64_t end = std::min(npages_, c + kChunk);
		for (uint64_t i = c; i < end; ++i)
			save_page(i, false);
		// Lift the protection of runs of saved pages only: a page the
		// handler is saving is lifted by the handler.
		uint64_t run = c;
		for (uint64_t i = c; i <= end; ++i) {
			if (i == end || state_[i].load() != 2) {
				if (i > run)
					unprotect(run, i - run);
				run = i + 1;
			}
		}
	}
	copier_done_ = true;
}

void Snapshot::uffd_handler()
{
	pollfd pf[2] = {{uffd_, POLLIN, 0}, {stop_efd_, POLLIN, 0}};
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents & POLLIN)
			break;
		uffd_msg msg;
		ssize_t n = read(uffd_, &msg, sizeof(msg));
		if (n != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT || !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
			continue;
		wp_faults_++;
		uint64_t i = (msg.arg.pagefault.address - reinterpret_cast<uint64_t>(region_->data())) / page_;
		if (i >= npages_)
			continue;
		if (!save_page(i, true))
			while (state_[i].load() != 2)  // the copier has it in hand
				std::this_thread::yield();
		unprotect(i, 1);
	}
}

void Snapshot::take_snapshot_uffd()
{
	auto fail = [&](const char *what) {
		snap_error_text_ = fmt::format("{}: {}", what, std::strerror(errno));
		snap_error_ = 1;
	};
	uffd_ = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
	if (uffd_ < 0)
		return fail("userfaultfd");
	struct uffdio_api api {};
	api.api = UFFD_API;
	api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	if (ioctl(uffd_, UFFDIO_API, &api) != 0)
		return fail("UFFDIO_API");
	struct uffdio_register reg {};
	reg.range.start = reinterpret_cast<uint64_t>(region_->data());
	reg.range.len = region_->bytes();
	reg.mode = UFFDIO_REGISTER_MODE_WP;
	if (ioctl(uffd_, UFFDIO_REGISTER, &reg) != 0)
		return fail("UFFDIO_REGISTER");
	struct uffdio_writeprotect wp {};
	wp.range = reg.range;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	if (ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp) != 0)
		return fail("UFFDIO_WRITEPROTECT");
	// The snapshot point is here: every page is protected.
	stop_efd_ = eventfd(0, EFD_CLOEXEC);
	handler_ = std::thread([this] { uffd_handler(); });
	copier_ = std::thread([this] { uffd_copier(); });
}

nlohmann::json Snapshot::trial(TrialEnv &env, const Params &)
{
	mode_ = env.mode;
	env_ = &env;
	path_ = fmt::format("{}/snapshot.bin", env.scratch);
	file_fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (file_fd_ < 0)
		throw std::runtime_error(fmt::format("open {}: {}", path_, std::strerror(errno)));
	snap_requested_ = snap_ended_ = stop_ = false;
	t_snap_start_ = t_snap_started_ = 0;
	snap_error_ = 0;
	snap_error_text_.clear();
	log_.clear();
	logging_ = false;
	log_at_end_ = SIZE_MAX;
	minflt_end_ = -1;
	child_ = -1;
	copied_by_copier_ = copied_by_handler_ = wp_faults_ = 0;
	copier_done_ = false;
	if (mode_ == Mode::UffdWp) {
		state_ = std::make_unique<std::atomic<uint8_t>[]>(npages_);
		for (uint64_t i = 0; i < npages_; ++i)
			state_[i].store(0);
	}
	env.procs.track(getpid());

	// The server thread and one socket pair per client connection.
	std::vector<int> server_fds, client_fds;
	for (int c = 0; c < conns_; ++c) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
			throw std::runtime_error(fmt::format("socketpair: {}", std::strerror(errno)));
		server_fds.push_back(sv[0]);
		client_fds.push_back(sv[1]);
	}
	int ctl = eventfd(0, EFD_CLOEXEC);
	std::thread server([&] { serve(server_fds, ctl); });
	auto cleanup = [&] {
		stop_ = true;
		if (server.joinable())
			server.join();
		for (int fd : server_fds)
			close(fd);
		for (int fd : client_fds)
			close(fd);
		close(ctl);
	};

	OpenLoopConfig cfg;
	cfg.rate_per_s = rate_;
	cfg.connections = static_cast<unsigned>(conns_);
	std::atomic<uint64_t> writes{0};
	nlohmann::json t;
	uint64_t t_req = 0, t_end = 0, t_stop = 0;
	std::string not_carried;  // an error, once the snapshot itself is checked
	try {
		OpenLoop load(cfg, [&](unsigned c) {
			int fd = client_fds[c];
			auto rng = std::make_shared<uint64_t>(mix(c + 1 + now_ns()));
			return OpenLoop::Request([this, fd, rng, &writes] {
				*rng = mix(*rng);
				Req r{static_cast<uint32_t>(*rng % npages_), (*rng >> 40) % 1000000 < wf_ * 1000000};
				writes += r.write;
				if (write(fd, &r, sizeof(r)) != sizeof(r))
					return false;
				uint64_t reply = 0;
				return read(fd, &reply, sizeof(reply)) == sizeof(reply) && reply == 1;
			});
		});
		uint64_t t0 = load.start();
		sleep_until_ns(t0 + static_cast<uint64_t>(baseline_ms_) * 1'000'000ull);
		t_req = now_ns();
		snap_requested_ = true;
		uint64_t one = 1;
		(void)!write(ctl, &one, sizeof(one));
		// Wait for the snapshot to be consistent on file.
		while (!t_snap_started_.load() && !snap_error_.load())
			std::this_thread::sleep_for(std::chrono::microseconds(100));
		if (mode_ == Mode::UffdWp) {
			if (copier_.joinable())
				copier_.join();
		} else if (child_ > 0) {
			int st = 0;
			while (waitpid(child_, &st, 0) < 0 && errno == EINTR) {
			}
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				snap_error_text_ = fmt::format("snapshot child {} failed: status {:#x}", child_, st);
				snap_error_ = 1;
			}
		}
		t_end = now_ns();
		snap_ended_ = true;
		sleep_until_ns(t_end + static_cast<uint64_t>(after_ms_) * 1'000'000ull);
		t_stop = now_ns();
		load.stop(t_stop);
		stop_ = true;
		server.join();  // no more writes: the record is final
		if (mode_ == Mode::UffdWp && uffd_ >= 0) {
			uint64_t one1 = 1;
			(void)!write(stop_efd_, &one1, sizeof(one1));
			if (handler_.joinable())
				handler_.join();
			struct uffdio_range rg {reinterpret_cast<uint64_t>(region_->data()), region_->bytes()};
			ioctl(uffd_, UFFDIO_UNREGISTER, &rg);
			close(uffd_);
			close(stop_efd_);
			uffd_ = stop_efd_ = -1;
		}
		if (snap_error_)
			throw std::runtime_error(snap_error_text_);
		auto problems = load.problems();
		if (!problems.empty())
			throw std::runtime_error("snapshot load: " + problems.front());
		const auto &tot = load.totals();
		if (tot.failed)
			throw std::runtime_error(fmt::format("snapshot load: {} requests failed ({})", tot.failed, tot.first_error));

		const auto &s = load.samples();
		uint64_t t_snap = t_req;
		auto is_before = [&](const OpenLoopSample &x) { return x.intended_ns < t_snap && x.intended_ns + x.latency_ns <= t_snap; };
		put_latency_stats(t, "before", latency_stats(s, is_before));
		put_latency_stats(t, "during", latency_stats(s, [&](const OpenLoopSample &x) { return !is_before(x) && x.intended_ns < t_end; }));
		put_latency_stats(t, "after", latency_stats(s, [&](const OpenLoopSample &x) { return x.intended_ns >= t_end; }));
		// A load the server did not carry (on time before the snapshot, back on
		// time in the last half of after_ms) measured a queue: an error with its numbers.
		auto carried = load_carried(s, t_snap, t_end, t_stop, rate_, 10'000'000, "the snapshot");
		t["load_behind_ns"] = std::max(carried.before_behind_ns, carried.recovered_behind_ns);
		t["load_kept_up"] = carried.kept_up;
		if (!carried.kept_up)
			not_carried = "snapshot: " + carried.why + " (lower params.rate, or raise params.after_ms)";
		t["requests_scheduled"] = tot.scheduled;
		t["requests_answered"] = tot.answered;
		t["writes_sent"] = writes.load();
		t["latency_series"] = latency_series(s, t_snap, static_cast<uint64_t>(bin_ms_) * 1'000'000ull);
		// The CDF of request latency during the snapshot: [fraction, ns] at
		// every percent and into the tail (nearest rank).
		std::vector<uint64_t> lat;
		for (const auto &x : s)
			if (x.ok && !is_before(x) && x.intended_ns < t_end)
				lat.push_back(x.latency_ns);
		std::sort(lat.begin(), lat.end());
		auto cdf = nlohmann::json::array();
		if (!lat.empty()) {
			std::vector<double> qs;
			for (int q = 1; q <= 99; ++q)
				qs.push_back(q / 100.0);
			for (double q : {0.995, 0.999, 0.9999, 1.0})
				qs.push_back(q);
			for (double q : qs) {
				size_t rank = std::min(lat.size() - 1, static_cast<size_t>(std::ceil(q * static_cast<double>(lat.size()))) - (q > 0 ? 1 : 0));
				cdf.push_back({q, lat[rank]});
			}
		}
		t["during_latency_cdf"] = cdf;
		t["snapshot_window_ns"] = {0, t_end - t_snap};
	} catch (...) {
		if (child_ > 0)
			waitpid(child_, nullptr, 0);
		if (copier_.joinable())
			copier_.join();
		if (stop_efd_ >= 0) {
			uint64_t one1 = 1;
			(void)!write(stop_efd_, &one1, sizeof(one1));
		}
		if (handler_.joinable())
			handler_.join();
		cleanup();
		close(file_fd_);
		std::remove(path_.c_str());
		throw;
	}
	cleanup();

	t["snapshot_ns"] = t_end - t_req;
	t["snapshot_start_ns"] = t_snap_started_.load() - t_snap_start_.load();
	t["snapshot_bytes_per_s"] = static_cast<double>(region_->bytes()) * 1e9 / static_cast<double>(std::max<uint64_t>(1, t_end - t_req));

	// The record at the snapshot point: today's versions, with every write
	// logged after the point undone, newest first.
	std::vector<uint32_t> at_snap = ver_;
	for (auto it = log_.rbegin(); it != log_.rend(); ++it)
		at_snap[it->page] = it->old_ver;
	std::vector<uint64_t> buf(page_ / 8), want(page_ / 8);
	uint64_t bad = 0, first_bad = UINT64_MAX;
	for (uint64_t i = 0; i < npages_; ++i) {
		if (pread(file_fd_, buf.data(), page_, static_cast<off_t>(i * page_)) != static_cast<ssize_t>(page_)) {
			++bad;
			first_bad = std::min(first_bad, i);
			continue;
		}
		fill_page(want.data(), want.size(), i, at_snap[i]);
		if (checksum(buf.data(), buf.size()) != checksum(want.data(), want.size())) {
			++bad;
			first_bad = std::min(first_bad, i);
		}
	}
	close(file_fd_);
	std::remove(path_.c_str());
	t["pages_verified"] = npages_ - bad;
	t["pages_mismatched"] = bad;
	t["snapshot_verified"] = bad == 0;
	if (bad)
		throw std::runtime_error(fmt::format("snapshot is not consistent: {} of {} pages differ from the record at the snapshot point (first: page {})",
						     bad, npages_, first_bad));
	if (!not_carried.empty())
		throw std::runtime_error(not_carried);

	// Pages first written while the snapshot was being taken, from the record.
	size_t upto = std::min(log_at_end_, log_.size());
	std::vector<bool> seen(npages_, false);
	uint64_t distinct = 0;
	for (size_t k = 0; k < upto; ++k)
		if (!seen[log_[k].page]) {
			seen[log_[k].page] = true;
			++distinct;
		}
	t["writes_during"] = upto;
	t["pages_written_during"] = distinct;
	if (minflt_end_ >= 0)
		t["server_minflt_during"] = minflt_end_ - minflt_start_;
	if (mode_ == Mode::UffdWp) {
		t["odf_verified"] = false;  // no fork, no ODF
		t["pages_copied"] = copied_by_handler_.load();  // ahead of the writer: the extra copies
		t["pages_copied_by_copier"] = copied_by_copier_.load();
		t["wp_faults"] = wp_faults_.load();
		t["extra_bytes"] = copied_by_handler_.load() * page_;
		if (copied_by_handler_ + copied_by_copier_ != npages_)
			throw std::runtime_error(fmt::format("uffd-wp: {} + {} pages saved, not {}", copied_by_handler_.load(), copied_by_copier_.load(), npages_));
	} else {
		// Copy-on-write: one page copied per page first written while the
		// child lived; the server thread's minor faults (RUSAGE_THREAD) are
		// the kernel's count of them.
		auto ps = read_record(t, env, getpid(), "server");
		if (ps && env.probe("sched_process_fork") && ps->forks == 1 && ps->last_child_tgid == static_cast<__u32>(child_)) {
			t["child_pgtables_bytes"] = ps->last_child_pgtables_bytes;
			record_fork_evidence(t, env, &*ps, child_, region_->pte_mapped_bytes());
		} else
			record_fork_evidence(t, env, nullptr, child_, region_->pte_mapped_bytes());
		env.procs.forget(child_);
		if (minflt_end_ >= 0) {
			uint64_t cow = static_cast<uint64_t>(std::max<long>(0, minflt_end_ - minflt_start_));
			t["pages_copied"] = cow;
			t["extra_bytes"] = cow * page_ + t.value("child_pgtables_bytes", uint64_t{0});
		}
	}
	return t;
}

}  // namespace
}  // namespace odfb

using odfb::Snapshot;
ODFBENCH_WORKLOAD("snapshot", Snapshot)
