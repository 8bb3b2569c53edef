// fork-tests: the paper's third class, testing.  A test runner loads a large
// fixture (`size`), then runs `tests` test cases, each in a forked child, the
// way Check's fork mode, GoogleTest death tests and pytest-forked isolate
// tests: the child reads part of the fixture (and checks it), writes a
// little, and exits with its verdict.  Each test pays one fork of the whole
// fixture, which is what ODF makes cheap.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/sysinfo.h"
#include "run/fork_trial.h"
#include "run/workload.h"

namespace odfb {
namespace {

class ForkTests final : public Workload {
public:
	std::string description() const override
	{
		return "a test runner holding a fixture of `size` forks one child per test case (`tests`); each reads "
		       "`read_pages` pages of the fixture, checks them, writes `write_pages`, exits";
	}
	// Each child's faults (page_fault_user, per process) are checked against
	// the pages it writes.
	bool counts_faults() const override { return true; }
	std::vector<Metric> metrics() const override
	{
		return {Metric::rate("tests_per_s"), Metric::ns("test_mean_ns"), Metric::ns("test_p50_ns"),
			Metric::ns("test_p99_ns"),   Metric::ns("test_max_ns"),  Metric::count("tests"),
			Metric::count("tests_failed"), Metric::count("rusage_child_minflt"), Metric::count("tests_reaped"),
			Metric::count("child_faults_min"), Metric::count("child_faults_max"), Metric::flag("odf_verified")};
	}
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "tests" && k != "read_pages" && k != "write_pages")
				throw std::invalid_argument(fmt::format(
					"params.{}: unknown parameter for fork-tests (known: tests, read_pages, write_pages)", k));
		for (const char *k : {"tests", "read_pages", "write_pages"})
			if (p.extra.contains(k) && (!p.extra[k].is_number_integer() || p.extra[k].get<long>() < (k[0] == 't' ? 1 : 0)))
				throw std::invalid_argument(fmt::format("params.{}: must be an integer >= {}", k, k[0] == 't' ? 1 : 0));
	}
	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		region_ = std::make_unique<Region>(p.size_bytes, false);
		tests_ = p.extra.value("tests", 100);
		read_pages_ = std::min<uint64_t>(p.extra.value("read_pages", 64), region_->pages());
		write_pages_ = std::min<uint64_t>(p.extra.value("write_pages", 4), region_->pages());
		// The fixture's content: each page holds its own index, which a test
		// checks, so a child that saw the wrong memory fails its test.
		for (uint64_t i = 0; i < region_->pages(); ++i)
			std::memcpy(region_->data() + i * region_->page_size() + 8, &i, sizeof(i));
		MissingMetrics missing(env);
		missing.need("sched_process_fork", {"bpf_forks"});
		missing.need("page_fault_user", {"child_faults_min", "child_faults_max"});
		auto j = region_->setup_json();
		j["missing_metrics"] = missing.json();
		j["read_pages"] = read_pages_;
		j["write_pages"] = write_pages_;
		return j;
	}
	nlohmann::json trial(TrialEnv &env, const Params &) override
	{
		pid_t self = getpid();
		env.procs.track(self);
		struct rusage rc0, rc1;
		getrusage(RUSAGE_CHILDREN, &rc0);
		std::vector<uint64_t> lat;
		lat.reserve(tests_);
		uint64_t failed = 0, reaped = 0, fmin = UINT64_MAX, fmax = 0, fcounted = 0, pages = region_->pages();
		long ps = region_->page_size();
		char *d = region_->data();
		nlohmann::json ev;
		uint64_t t0 = now_ns();
		for (uint64_t n = 0; n < tests_; ++n) {
			uint64_t s = now_ns();
			pid_t pid = env.fork_fn();
			if (pid == 0) {
				// Test n: its own stretch of the fixture, spread over it.
				uint64_t first = n * 7919 % pages;
				for (uint64_t k = 0; k < read_pages_; ++k) {
					uint64_t i = (first + k) % pages, v;
					std::memcpy(&v, d + i * ps + 8, sizeof(v));
					if (v != i)
						_exit(1);
				}
				for (uint64_t k = 0; k < write_pages_; ++k)
					d[(first + k) % pages * ps + 16] = static_cast<char>(n);
				_exit(0);
			}
			if (pid < 0)
				throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(errno)));
			int status = 0;
			bool got = waitpid(pid, &status, 0) == pid;
			lat.push_back(now_ns() - s);
			reaped += got;
			// The reaped child's own record: faults over its whole life.
			if (env.probe("page_fault_user"))
				if (auto cs = read_record(ev, env, pid, "child", Record::Child)) {
					fmin = std::min<uint64_t>(fmin, cs->faults_user);
					fmax = std::max<uint64_t>(fmax, cs->faults_user);
					++fcounted;
				}
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				++failed;
			if (n == 0) {  // the first test's child stands for the rest
				auto pr = read_record(ev, env, self, "parent");
				record_fork_evidence(ev, env, pr ? &*pr : nullptr, pid, region_->pte_mapped_bytes());
			}
			env.procs.forget(pid);
		}
		uint64_t t = now_ns() - t0;
		getrusage(RUSAGE_CHILDREN, &rc1);
		std::vector<uint64_t> s = lat;
		std::sort(s.begin(), s.end());
		auto q = [&](double f) { return s[std::min<size_t>(s.size() - 1, static_cast<size_t>(f * s.size()))]; };
		uint64_t sum = 0;
		for (auto v : lat)
			sum += v;
		nlohmann::json r = {{"tests", tests_},
				    {"tests_failed", failed},
				    {"tests_per_s", static_cast<double>(tests_) * 1e9 / static_cast<double>(t)},
				    {"test_mean_ns", static_cast<double>(sum) / static_cast<double>(tests_)},
				    {"test_p50_ns", q(0.5)},
				    {"test_p99_ns", q(0.99)},
				    {"test_max_ns", s.back()},
				    {"rusage_child_minflt", rc1.ru_minflt - rc0.ru_minflt},
				    {"tests_reaped", reaped},
				    {"odf_verified", ev.value("odf_verified", false)},
				    {"odf_evidence", "the first test's child"}};
		if (fcounted == tests_) {  // only when every child was counted
			r["child_faults_min"] = fmin;
			r["child_faults_max"] = fmax;
		}
		for (auto &[k, v] : ev.items())  // page tables, sharing, flag of the first child
			if (!r.contains(k))
				r[k] = v;
		if (auto pr = read_record(r, env, self, "parent"); pr && env.probe("sched_process_fork"))
			r["bpf_forks"] = pr->forks;
		if (failed)
			throw std::runtime_error(fmt::format("{} of {} tests failed: a child read the wrong fixture", failed, tests_));
		return r;
	}

private:
	std::unique_ptr<Region> region_;
	uint64_t tests_ = 0, read_pages_ = 0, write_pages_ = 0;
};

}  // namespace
}  // namespace odfb

using odfb::ForkTests;
ODFBENCH_WORKLOAD("fork-tests", ForkTests)
