#include "overhead/overhead.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dispatch_floor.skel.h"
#include "run/fork_trial.h"
#include "base/supervise.h"
#include "base/sizes.h"
#include "base/stats.h"
#include "base/sysinfo.h"

namespace odfb {

namespace {

// Paired design: sample i of each side ran back to back, so slow drift (a
// neighbour's load, frequency changes) hits both.  The statistic is the
// median of the per-pair differences or ratios, with the sign-test interval.
nlohmann::json paired(const std::vector<double> &with, const std::vector<double> &without, bool as_ratio)
{
	std::vector<double> d;
	for (size_t i = 0; i < std::min(with.size(), without.size()); ++i)
		d.push_back(as_ratio ? with[i] / without[i] : with[i] - without[i]);
	if (d.empty())
		return {{"value", nullptr}, {"ci95", nullptr}, {"ci95_reason", "no pairs"}, {"pairs", 0}};
	auto m = median_json(d);
	nlohmann::json j = {{"value", m["median"]}, {"ci95", m["ci95"]}, {"pairs", m["n"]}};
	if (m.contains("ci95_reason"))
		j["ci95_reason"] = m["ci95_reason"];
	return j;
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
		auto ps = procs.read(self);
		clone_ns = ps && ps->clones == 1 ? ps->clone_ns_last : 0;  // 0: the caller skips it
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

// n back-to-back pairs of samples, one without the probes and one with.  The
// order inside a pair alternates (AB, BA, ...), and each switch gets a
// millisecond to settle (link changes patch kernel text and wait for RCU), so
// what the switch itself disturbs falls on both sides alike.
template <class Switch, class Sample>
void ab_pairs(int n, Switch set_side, Sample sample, std::vector<double> &with, std::vector<double> &without)
{
	for (int i = 0; i < n && !interrupted(); ++i) {
		for (int k = 0; k < 2; ++k) {
			bool attached = (i % 2 == 0) == (k == 1);
			set_side(attached);
			usleep(1000);
			(attached ? with : without).push_back(sample(attached));
		}
	}
}

// ns per getppid(): the cheapest syscall that always enters the kernel.
double syscall_cost(int calls)
{
	uint64_t t0 = now_ns();
	for (int i = 0; i < calls; ++i)
		syscall(SYS_getppid);
	return static_cast<double>(now_ns() - t0) / calls;
}

// The same first-touch A/B, but the "with" side is an empty program on the
// fault tracepoint and none of the suite's probes: the dispatch floor.
nlohmann::json dispatch_floor(Probes &probes, const OverheadOptions &o)
{
	dispatch_floor_bpf *skel = dispatch_floor_bpf__open_and_load();
	if (!skel)
		return {{"available", false}, {"reason", fmt::format("empty tp_btf program: {}", strerror(errno))}};
	probes.detach();
	bpf_link *link = nullptr;
	std::vector<double> with, without;
	ab_pairs(
		o.fault_reps,
		[&](bool on) {
			if (on && !link)
				link = bpf_program__attach(skel->progs.empty_fault);
			if (!on && link) {
				bpf_link__destroy(link);
				link = nullptr;
			}
		},
		[&](bool) { return fault_cost(o.fault_bytes); }, with, without);
	bool attached = link != nullptr || !with.empty();
	if (link)
		bpf_link__destroy(link);
	dispatch_floor_bpf__destroy(skel);
	probes.reattach();
	if (!attached)
		return {{"available", false}, {"reason", "the empty program did not attach"}};
	return {{"available", true},
		{"without_ns_per_fault", median_json(without)},
		{"with_empty_program_ns_per_fault", median_json(with)},
		{"added_ns_per_fault", paired(with, without, false)}};
}

nlohmann::json program_cost(Probes &probes, ProcTable &procs, const OverheadOptions &o)
{
	int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		return {{"available", false},
			{"reason", fmt::format("BPF_ENABLE_STATS: {} (needs Linux >= 5.8)", strerror(errno))}};
	auto before = probes.program_stats();
	procs.track(getpid());
	for (int i = 0; i < 3; ++i)
		fault_cost(o.fault_bytes);
	for (int i = 0; i < 10; ++i) {
		uint64_t ignored = 0;
		fork_once(probes, true, ignored);
		procs.track(getpid());
	}
	procs.forget(getpid());
	auto after = probes.program_stats();
	close(stats_fd);
	nlohmann::json progs = nlohmann::json::array();
	for (size_t i = 0; i < after.size() && i < before.size(); ++i) {
		uint64_t runs = after[i].run_cnt - before[i].run_cnt, ns = after[i].run_time_ns - before[i].run_time_ns;
		progs.push_back({{"program", after[i].program},
				 {"runs", runs},
				 {"run_time_ns", ns},
				 {"ns_per_run", runs ? nlohmann::json(static_cast<double>(ns) / static_cast<double>(runs)) : nlohmann::json()}});
	}
	return {{"available", true},
		{"workload", fmt::format("3 first-touch passes over {} and 10 forks, this process tracked; other processes' runs "
					 "count too", format_size(o.fault_bytes))},
		{"programs", progs}};
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
			      {"reps", o.reps},
			      {"fault_reps", o.fault_reps}};
	uint64_t t_start = now_ns();

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
	// none, in back-to-back pairs so drift hits both sides alike.
	out["fork"] = nlohmann::json::array();
	for (auto size : o.sizes) {
		if (interrupted())
			break;
		Region r(size, false);
		std::vector<double> with, without, gap;
		ab_pairs(
			o.reps, [&](bool on) { on ? probes.reattach() : probes.detach(); },
			[&](bool on) {
				uint64_t clone_ns = 0;
				double f = fork_once(probes, on, clone_ns);
				if (on && clone_ns)
					gap.push_back(f - static_cast<double>(clone_ns));
				return f;
			},
			with, without);
		probes.reattach();
		out["fork"].push_back({{"size", format_size(size)},
				       {"without_probes_ns", median_json(without)},
				       {"with_probes_ns", median_json(with)},
				       {"ratio", paired(with, without, true)},
				       {"user_minus_kernel_clone_ns", median_json(gap)}});
	}

	// Page faults: first touch of a fresh region, per fault.  Twice: with
	// this process tracked (what a measured workload pays), and untracked
	// (what every other process on the machine pays while a run is on).
	out["fault"] = nlohmann::json::object();
	for (bool tracked : {true, false}) {
		std::vector<double> with, without;
		ab_pairs(
			o.fault_reps,
			[&](bool on) {
				on ? probes.reattach() : probes.detach();
				if (on && tracked)
					procs.track(getpid());
				else
					procs.forget(getpid());
			},
			[&](bool) { return fault_cost(o.fault_bytes); }, with, without);
		procs.forget(getpid());
		probes.reattach();
		out["fault"][tracked ? "tracked" : "untracked"] = {{"region", format_size(o.fault_bytes)},
								   {"without_probes_ns_per_fault", median_json(without)},
								   {"with_probes_ns_per_fault", median_json(with)},
								   {"added_ns_per_fault", paired(with, without, false)}};
	}

	out["fault"]["dispatch_floor"] = dispatch_floor(probes, o);

	// The syscall tax: clone_syscall hooks sys_enter/sys_exit of every
	// syscall on the machine; an untracked getppid() shows what that costs.
	{
		std::vector<double> with, without;
		ab_pairs(
			o.fault_reps, [&](bool on) { on ? probes.reattach() : probes.detach(); },
			[&](bool) { return syscall_cost(o.syscalls); }, with, without);
		probes.reattach();
		out["syscall"] = {{"syscall", "getppid"},
				  {"without_probes_ns", median_json(without)},
				  {"with_probes_ns", median_json(with)},
				  {"added_ns_per_syscall", paired(with, without, false)}};
	}

	// The kernel's own account of each program's body: run count and run
	// time (BPF_STATS_RUN_TIME, Linux >= 5.8).  Kept apart from the A/B
	// above because collecting it adds two clock reads to every run.
	out["program_cost"] = program_cost(probes, procs, o);

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
	out["wall_ns"] = now_ns() - t_start;
	out["finished"] = utc_timestamp();
	out["status"] = interrupted() ? "interrupted" : "complete";
	return out;
}

}  // namespace odfb
