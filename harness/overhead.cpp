#include "overhead.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fork_trial.h"
#include "runner.h"
#include "sizes.h"
#include "stats.h"
#include "sysinfo.h"

namespace odfb {

namespace {

// A - B of two medians, with the same distribution-free interval logic as
// speedup(): 97.5% intervals on each side, so the difference's holds >= 95%.
nlohmann::json difference(std::vector<double> a, std::vector<double> b)
{
	std::sort(a.begin(), a.end());
	std::sort(b.begin(), b.end());
	auto ra = median_ci_ranks(a.size(), 0.0125), rb = median_ci_ranks(b.size(), 0.0125);
	double d = quantile_sorted(a, 0.5) - quantile_sorted(b, 0.5);
	return {{"value", d}, {"ci95", {a[ra[0]] - b[rb[1]], a[ra[1]] - b[rb[0]]}}};
}

nlohmann::json ratio(const std::vector<double> &with, const std::vector<double> &without)
{
	auto s = speedup(with, without, false);  // median(with) / median(without)
	return {{"value", s.value}, {"ci95", {s.lo, s.hi}}};
}

nlohmann::json medians(const std::vector<double> &v)
{
	auto s = summarize(v);
	return {{"median", s.median}, {"ci95", {s.ci95[0], s.ci95[1]}}, {"n", s.n}};
}

// One fork of this process; the child exits at once.
double fork_once(Probes &probes, bool tracked, uint64_t &clone_ns)
{
	ProcTable procs(probes.procs_fd());
	pid_t self = getpid();
	if (tracked)
		procs.track(self);
	uint64_t t0 = now_ns();
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	uint64_t t1 = now_ns();
	if (pid < 0)
		throw std::runtime_error(fmt::format("fork: {}", strerror(errno)));
	waitpid(pid, nullptr, 0);
	clone_ns = 0;
	if (tracked) {
		auto ps = procs.read(self).value_or(proc_stats{});
		clone_ns = ps.clones == 1 ? ps.clone_ns_last : 0;
		procs.forget(pid);
		procs.forget(self);
	}
	return static_cast<double>(t1 - t0);
}

// ns per first-touch fault over a fresh region of `bytes`.
double fault_cost(uint64_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = static_cast<char *>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	if (p == MAP_FAILED)
		throw std::runtime_error(fmt::format("mmap: {}", strerror(errno)));
	madvise(p, bytes, MADV_NOHUGEPAGE);
	uint64_t t0 = now_ns();
	for (uint64_t off = 0; off < bytes; off += page)
		p[off] = 1;
	uint64_t dt = now_ns() - t0;
	munmap(p, bytes);
	return static_cast<double>(dt) / static_cast<double>(bytes / page);
}

}  // namespace

nlohmann::json measure_overhead(Probes &probes, const OverheadOptions &o)
{
	ProcTable procs(probes.procs_fd());
	nlohmann::json out = {{"kind", "odfbench-overhead"},
			      {"started", utc_timestamp()},
			      {"kernel", {{"release", kernel_release()}, {"btf", kernel_btf_present()}}},
			      {"host", host_json()},
			      {"probes", probes.report_json()},
			      {"reps", o.reps}};

	// Timer: resolution and the cost of one now_ns().
	timespec res{};
	clock_getres(CLOCK_MONOTONIC, &res);
	const int calls = 1'000'000;
	uint64_t t0 = now_ns(), sink = 0;
	for (int i = 0; i < calls; ++i)
		sink += now_ns();
	double per_call = static_cast<double>(now_ns() - t0) / calls;
	out["timer"] = {{"clock", "CLOCK_MONOTONIC"}, {"resolution_ns", res.tv_sec * 1'000'000'000LL + res.tv_nsec},
			{"cost_per_call_ns", per_call}, {"sink", sink % 2}};

	// Fork latency with all probes attached (this process tracked) and with
	// none, interleaved A/B/A/B so drift hits both sides alike.
	out["fork"] = nlohmann::json::array();
	for (auto size : o.sizes) {
		if (interrupted())
			break;
		Region r(size, false);
		std::vector<double> with, without, gap;
		for (int i = 0; i < 2 * o.reps && !interrupted(); ++i) {
			bool attached = i % 2 == 1;
			if (attached)
				probes.reattach();
			else
				probes.detach();
			uint64_t clone_ns = 0;
			double f = fork_once(probes, attached, clone_ns);
			(attached ? with : without).push_back(f);
			if (attached && clone_ns)
				gap.push_back(f - static_cast<double>(clone_ns));
		}
		probes.reattach();
		out["fork"].push_back({{"size", format_size(size)},
				       {"without_probes_ns", medians(without)},
				       {"with_probes_ns", medians(with)},
				       {"ratio", ratio(with, without)},
				       {"user_minus_kernel_clone_ns", medians(gap)}});
	}

	// Page faults: first touch of a fresh region, tracked with the fault
	// probe attached vs no probes at all; per fault.
	std::vector<double> with, without;
	for (int i = 0; i < 2 * o.fault_reps && !interrupted(); ++i) {
		bool attached = i % 2 == 1;
		if (attached) {
			probes.reattach();
			procs.track(getpid());
		} else {
			probes.detach();
		}
		(attached ? with : without).push_back(fault_cost(o.fault_bytes));
	}
	probes.reattach();
	procs.forget(getpid());
	out["fault"] = {{"region", format_size(o.fault_bytes)},
			{"without_probes_ns_per_fault", medians(without)},
			{"with_probes_ns_per_fault", medians(with)},
			{"added_ns_per_fault", difference(with, without)}};

	// Prefault speed: one thread against one per online CPU.
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	nlohmann::json pre = nlohmann::json::array();
	for (int threads : {1, static_cast<int>(cpus)}) {
		Region r(o.prefault_bytes, false, threads);
		auto j = r.setup_json();
		pre.push_back({{"threads", threads},
			       {"bytes", o.prefault_bytes},
			       {"gib_per_s", j["prefault_bytes_per_s"].get<double>() / (1ull << 30)},
			       {"gib_per_s_per_thread", j["prefault_bytes_per_s"].get<double>() / (1ull << 30) / threads}});
	}
	out["prefault"] = pre;
	out["finished"] = utc_timestamp();
	out["status"] = interrupted() ? "interrupted" : "complete";
	return out;
}

namespace {
// Against an upper limit: met only if the whole interval is under it, missed
// only if the whole interval is over it; otherwise this n cannot tell.
std::string verdict(const nlohmann::json &ci, double limit)
{
	if (ci[1].get<double>() <= limit)
		return "met";
	if (ci[0].get<double>() > limit)
		return "**missed**";
	return "undecided: the interval spans the target (more reps, or a quieter machine)";
}
}  // namespace

std::string overhead_markdown(const nlohmann::json &j)
{
	auto ms = [](double ns) { return fmt::format("{:.3f}", ns / 1e6); };
	std::string s = "# Measurement overhead\n\n";
	s += "Generated by `make performance` (`odfbench overhead`); do not edit by hand.\n\n";
	const auto &h = j["host"];
	s += fmt::format("Machine: {}, {} CPUs online, {:.1f} GiB; kernel {} (BTF {}); measured {}.\n\n", h["cpu_model"].get<std::string>(),
			 h["cpus_online"].get<int>(), h["mem_total_bytes"].get<double>() / (1ull << 30), j["kernel"]["release"].get<std::string>(),
			 j["kernel"]["btf"].get<bool>() ? "yes" : "no", j["started"].get<std::string>());
	s += "Attached probes:";
	for (const auto &p : j["probes"])
		if (p["attached"])
			s += fmt::format(" {} ({})", p["name"].get<std::string>(), p["mechanism"].get<std::string>());
	s += ".\n\nA/B runs are interleaved in one process (with, without, with, ...); intervals are "
	     "distribution-free 95% intervals (docs/results.md).\n\n";

	s += "## Fork latency with and without the probes\n\n| size | without (ms) | with (ms) | with / without [95% CI] | target ≤ 1.02 at 1 GiB |\n|---|---|---|---|---|\n";
	for (const auto &f : j["fork"]) {
		const auto &r = f["ratio"];
		bool gib = f["size"] == "1G";
		s += fmt::format("| {} | {} | {} | {:.3f} [{:.3f}, {:.3f}] | {} |\n", f["size"].get<std::string>(),
				 ms(f["without_probes_ns"]["median"].get<double>()), ms(f["with_probes_ns"]["median"].get<double>()),
				 r["value"].get<double>(), r["ci95"][0].get<double>(), r["ci95"][1].get<double>(),
				 gib ? verdict(r["ci95"], 1.02) : "");
	}
	s += "\n## Page-fault cost\n\n";
	const auto &fa = j["fault"];
	double added = fa["added_ns_per_fault"]["value"].get<double>();
	s += fmt::format("First touch of a fresh {} region: {:.0f} ns per fault without probes, {:.0f} ns with the fault "
			 "probe attached and the process tracked: **{:+.0f} ns per fault** [{:+.0f}, {:+.0f}]; target ≤ 100 ns: {}.\n\n",
			 fa["region"].get<std::string>(), fa["without_probes_ns_per_fault"]["median"].get<double>(),
			 fa["with_probes_ns_per_fault"]["median"].get<double>(), added, fa["added_ns_per_fault"]["ci95"][0].get<double>(),
			 fa["added_ns_per_fault"]["ci95"][1].get<double>(), verdict(fa["added_ns_per_fault"]["ci95"], 100));
	s += "What the fault probe does per fault, in every process on the machine: one tp_btf program run on "
	     "`exceptions:page_fault_user`, one lookup of the current tgid in the run's `procs` hash map (the filter), and "
	     "for tracked processes one atomic add. On a 6.0.6 ODF kernel the `handle_cow_pte` and `handle_mm_fault` "
	     "fentry probes also run on every fault. Not yet tried: a per-CPU cache of the last tgid's verdict, or a "
	     "cgroup filter ahead of the map lookup; until then the fault probe is on in every run.\n\n";
	s += "## The gap between user-space fork and the kernel's clone\n\n| size | fork_ns − clone_kernel_ns, median (µs) [95% CI] |\n|---|---|\n";
	for (const auto &f : j["fork"]) {
		const auto &g = f["user_minus_kernel_clone_ns"];
		if (g["n"].get<int>() > 0)
			s += fmt::format("| {} | {:.1f} [{:.1f}, {:.1f}] |\n", f["size"].get<std::string>(), g["median"].get<double>() / 1e3,
					 g["ci95"][0].get<double>() / 1e3, g["ci95"][1].get<double>() / 1e3);
	}
	s += fmt::format("\n## Timer\n\n`CLOCK_MONOTONIC` resolution {} ns; one `now_ns()` call costs {:.1f} ns.\n\n",
			 j["timer"]["resolution_ns"].get<int64_t>(), j["timer"]["cost_per_call_ns"].get<double>());
	s += "## Prefault speed\n\n| threads | GiB/s | GiB/s per thread | target ≥ 1 GiB/s per core |\n|---|---|---|---|\n";
	for (const auto &p : j["prefault"])
		s += fmt::format("| {} | {:.2f} | {:.2f} | {} |\n", p["threads"].get<int>(), p["gib_per_s"].get<double>(),
				 p["gib_per_s_per_thread"].get<double>(), p["gib_per_s_per_thread"].get<double>() >= 1.0 ? "met" : "**missed**");
	return s;
}

}  // namespace odfb
