// vma-sweep: fork latency against the number of VMAs at a fixed footprint.
// The region is split into params.vmas mappings with an unmapped page between
// neighbours, so the kernel cannot merge them; parent_vmas (from
// /proc/self/maps) and copy_page_range_calls (BPF) both count them.
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "run/fork_trial.h"
#include "base/sysinfo.h"
#include "run/workload.h"

namespace odfb {
namespace {

class VmaSweep final : public Workload {
public:
	~VmaSweep() override
	{
		if (base_)
			munmap(base_, span_);  // holes included: munmap of a range with gaps is fine
	}
	std::string description() const override { return "fork of `size` split into params.vmas separate mappings (default 1024)"; }
	std::vector<Metric> metrics() const override
	{
		return {Metric::ns("fork_ns"), Metric::ns("clone_kernel_ns"), Metric::count("parent_vmas"),
			Metric::count("copy_page_range_calls"), Metric::ns("copy_page_range_ns"), Metric::flag("odf_verified")};
	}
	void validate(const Params &p) const override
	{
		for (auto &[k, v] : p.extra.items())
			if (k != "vmas")
				throw std::invalid_argument(fmt::format("params.{}: unknown parameter for vma-sweep (known: vmas)", k));
		if (p.extra.contains("vmas") &&
		    (!p.extra["vmas"].is_number_integer() || p.extra["vmas"].get<int64_t>() < 1 || p.extra["vmas"].get<int64_t>() > 60000))
			throw std::invalid_argument("params.vmas: must be an integer in [1, 60000] (vm.max_map_count is 65530 by default)");
		uint64_t vmas = p.extra.value("vmas", 1024);
		if (p.size_bytes / vmas < 4096)
			throw std::invalid_argument(fmt::format("params.vmas: {} mappings do not fit in {} bytes (one page each at least)", vmas, p.size_bytes));
	}

	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		long page = sysconf(_SC_PAGESIZE);
		vmas_ = p.extra.value("vmas", 1024);
		uint64_t chunk = p.size_bytes / vmas_ / page * page;
		span_ = vmas_ * (chunk + page);
		void *b = mmap(nullptr, span_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (b == MAP_FAILED)
			throw std::runtime_error(fmt::format("mmap: {}", std::strerror(errno)));
		base_ = static_cast<char *>(b);
		uint64_t t0 = now_ns();
		for (uint64_t i = 0; i < vmas_; ++i) {
			char *c = base_ + i * (chunk + page);
			if (mmap(c, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
				throw std::runtime_error(fmt::format("mmap of mapping {}: {}", i, std::strerror(errno)));
			madvise(c, chunk, MADV_NOHUGEPAGE);
			for (uint64_t off = 0; off < chunk; off += page)
				c[off] = 1;
			munmap(c + chunk, page);  // an unmapped hole: no two mappings can merge
		}
		region_bytes_ = chunk * vmas_;
		MissingMetrics missing(env);
		missing.need("copy_page_range", {"copy_page_range_calls", "copy_page_range_ns"});
		missing.need("clone_syscall", {"clone_kernel_ns"});
		return {{"vmas_requested", vmas_},
			{"mapping_bytes", chunk},
			{"prefault_ns", now_ns() - t0},
			{"vmas_in_maps", count_vmas(getpid())},
			{"missing_metrics", missing.json()}};
	}

	nlohmann::json trial(TrialEnv &env, const Params &) override
	{
		pid_t self = getpid();
		env.procs.track(self);
		int vmas = count_vmas(self);
		uint64_t t0 = now_ns();
		pid_t pid = env.fork_fn();
		if (pid == 0)
			_exit(0);
		uint64_t t1 = now_ns();
		if (pid < 0)
			throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(errno)));
		waitpid(pid, nullptr, 0);
		nlohmann::json t = {{"fork_ns", t1 - t0}, {"parent_vmas", vmas}};
		auto ps = read_record(t, env, self, "parent");
		auto cs = read_record(t, env, pid, "child", Record::Child);
		env.procs.forget(pid);
		if (ps && env.probe("clone_syscall") && ps->clones == 1)
			t["clone_kernel_ns"] = ps->clone_ns_last;
		record_fork_evidence(t, env, ps ? &*ps : nullptr, pid, region_bytes_);
		record_copy_counters(t, env, ps ? &*ps : nullptr, cs ? &*cs : nullptr);
		return t;
	}

private:
	char *base_ = nullptr;
	uint64_t span_ = 0, vmas_ = 0, region_bytes_ = 0;
};

}  // namespace
}  // namespace odfb

using odfb::VmaSweep;
ODFBENCH_WORKLOAD("vma-sweep", VmaSweep)
