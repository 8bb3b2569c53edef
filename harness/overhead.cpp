#include "overhead.h"

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
#include "fork_trial.h"
#include "runner.h"
#include "sizes.h"
#include "spec.h"
#include "stats.h"
#include "sysinfo.h"

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
		return {{"value", nullptr}, {"ci95", {nullptr, nullptr}}, {"pairs", 0}};
	std::sort(d.begin(), d.end());
	auto r = median_ci_ranks(d.size(), 0.025);
	return {{"value", quantile_sorted(d, 0.5)}, {"ci95", {d[r[0]], d[r[1]]}}, {"pairs", d.size()}};
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
		{"without_ns_per_fault", medians(without)},
		{"with_empty_program_ns_per_fault", medians(with)},
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

OverheadOptions load_overhead_config(const std::string &path)
{
	nlohmann::json j = read_json_file(path, "overhead config");
	OverheadOptions o;
	auto fail = [&](const std::string &m) { return SpecError(fmt::format("overhead config {}: {}", path, m)); };
	if (!j.is_object() || j.value("kind", "") != "overhead")
		throw fail(R"(not an overhead config (needs "kind": "overhead"))");
	auto integer = [&](const char *k, int &dst) {
		if (!j.contains(k))
			return;
		if (!j[k].is_number_integer())
			throw fail(fmt::format("{} must be an integer", k));
		dst = j[k].get<int>();
	};
	auto size = [&](const nlohmann::json &v, const std::string &k) {
		if (!v.is_string())
			throw fail(fmt::format("{} must be a size string such as \"256M\"", k));
		try {
			return parse_size(v.get<std::string>());
		} catch (const std::exception &e) {
			throw fail(fmt::format("{}: {}", k, e.what()));
		}
	};
	for (const auto &[k, v] : j.items()) {
		if (k == "kind" || k == "comment")
			continue;
		if (k == "sizes") {
			if (!v.is_array() || v.empty())
				throw fail("sizes must be a non-empty array");
			o.sizes.clear();
			for (const auto &e : v)
				o.sizes.push_back(size(e, "sizes"));
		} else if (k == "fault_region") {
			o.fault_bytes = size(v, k);
		} else if (k == "prefault") {
			o.prefault_bytes = size(v, k);
		} else if (k != "reps" && k != "fault_reps" && k != "syscalls") {
			throw fail(fmt::format("unknown key \"{}\"", k));
		}
	}
	integer("reps", o.reps);
	integer("fault_reps", o.fault_reps);
	integer("syscalls", o.syscalls);
	try {
		validate(o);
	} catch (const SpecError &e) {
		throw fail(e.what());
	}
	return o;
}

void validate(const OverheadOptions &o)
{
	if (o.reps < 3 || o.reps > 100000)
		throw SpecError(fmt::format("reps: {} is out of range [3, 100000]", o.reps));
	if (o.fault_reps < 3 || o.fault_reps > 100000)
		throw SpecError(fmt::format("fault_reps: {} is out of range [3, 100000]", o.fault_reps));
	if (o.syscalls < 1000 || o.syscalls > 100'000'000)
		throw SpecError(fmt::format("syscalls: {} is out of range [1000, 100000000]", o.syscalls));
	if (o.fault_bytes < (1ull << 20))
		throw SpecError(fmt::format("fault_region: {} is under 1M", format_size(o.fault_bytes)));
	if (o.prefault_bytes < (1ull << 20))
		throw SpecError(fmt::format("prefault: {} is under 1M", format_size(o.prefault_bytes)));
}

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
				       {"without_probes_ns", medians(without)},
				       {"with_probes_ns", medians(with)},
				       {"ratio", paired(with, without, true)},
				       {"user_minus_kernel_clone_ns", medians(gap)}});
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
								   {"without_probes_ns_per_fault", medians(without)},
								   {"with_probes_ns_per_fault", medians(with)},
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
				  {"without_probes_ns", medians(without)},
				  {"with_probes_ns", medians(with)},
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
	s += fmt::format(".\n\nWall time of this measurement: {:.0f} s.\n\n", j.value("wall_ns", 0.0) / 1e9);
	{
		s += "## Targets (issue 8)\n\n| target | measured here | verdict |\n|---|---|---|\n";
		for (const auto &f : j["fork"])
			if (f["size"] == "1G") {
				const auto &r = f["ratio"];
				s += fmt::format("| probes add ≤ 2% to the median fork at 1 GiB | ×{:.3f} [{:.3f}, {:.3f}] | {} |\n",
						 r["value"].get<double>(), r["ci95"][0].get<double>(), r["ci95"][1].get<double>(),
						 verdict(r["ci95"], 1.02));
			}
		const auto &a = j["fault"]["tracked"]["added_ns_per_fault"];
		std::string v = verdict(a["ci95"], 100);
		s += fmt::format("| probes add ≤ 100 ns per page fault | {:+.0f} ns [{:+.0f}, {:+.0f}] | {}{} |\n",
				 a["value"].get<double>(), a["ci95"][0].get<double>(), a["ci95"][1].get<double>(), v,
				 v == "met" ? "" : "; the per-fault probes are opt-in per workload (below)");
		double worst = 1e9;
		for (const auto &p : j["prefault"])
			worst = std::min(worst, p["gib_per_s_per_thread"].get<double>());
		s += fmt::format("| prefault ≥ 1 GiB/s per core, spread over cores | {:.2f} GiB/s per thread at worst | {} |\n", worst,
				 worst >= 1.0 ? "met" : "**missed**");
		s += fmt::format("| each evaluation preset reports its wall time | `run.wall_ns` in every results file; this "
				 "measurement {:.0f} s | met |\n\n",
				 j.value("wall_ns", 0.0) / 1e9);
	}
	s += "A/B samples run in back-to-back pairs in one process, the order alternating (AB, BA, ...), each switch "
	     "given 1 ms to settle. Each figure is the median of the "
	     "per-pair differences (or ratios) of back-to-back samples, with its sign-test 95% interval, so slow drift "
	     "cancels. A target is *met* only when the whole interval is under it.\n\n";

	s += fmt::format("## Fork latency with and without the probes\n\n{} pairs per size.\n\n", j["reps"].get<int>());
	s += "| size | without (ms) | with (ms) | with / without [95% CI] | target ≤ 1.02 at 1 GiB |\n|---|---|---|---|---|\n";
	for (const auto &f : j["fork"]) {
		const auto &r = f["ratio"];
		bool gib = f["size"] == "1G";
		s += fmt::format("| {} | {} | {} | {:.3f} [{:.3f}, {:.3f}] | {} |\n", f["size"].get<std::string>(),
				 ms(f["without_probes_ns"]["median"].get<double>()), ms(f["with_probes_ns"]["median"].get<double>()),
				 r["value"].get<double>(), r["ci95"][0].get<double>(), r["ci95"][1].get<double>(),
				 gib ? verdict(r["ci95"], 1.02) : "");
	}
	s += "\n## Page-fault cost\n\n";
	s += "| process | without (ns/fault) | with (ns/fault) | added [95% CI] | target ≤ 100 ns |\n|---|---|---|---|---|\n";
	for (const char *who : {"tracked", "untracked"}) {
		if (!j["fault"].contains(who))
			continue;
		const auto &fa = j["fault"][who];
		const auto &a = fa["added_ns_per_fault"];
		s += fmt::format("| {} | {:.0f} | {:.0f} | {:+.0f} [{:+.0f}, {:+.0f}] | {} |\n", who,
				 fa["without_probes_ns_per_fault"]["median"].get<double>(),
				 fa["with_probes_ns_per_fault"]["median"].get<double>(), a["value"].get<double>(),
				 a["ci95"][0].get<double>(), a["ci95"][1].get<double>(), verdict(a["ci95"], 100));
	}
	s += fmt::format("\nFirst touch of a fresh {} region, {} pairs. *tracked*: this process is in the run's `procs` map, "
			 "as a measured workload is. *untracked*: what every other process on the machine pays per fault while "
			 "the probe is live.\n\n",
			 j["fault"]["tracked"]["region"].get<std::string>(), j["fault_reps"].get<int>());
	if (j["fault"].contains("dispatch_floor") && j["fault"]["dispatch_floor"]["available"].get<bool>()) {
		const auto &a = j["fault"]["dispatch_floor"]["added_ns_per_fault"];
		s += fmt::format("Calibration: an **empty** program on the same tracepoint, with none of the suite's probes, adds "
				 "**{:+.0f} ns per fault** [{:+.0f}, {:+.0f}]: the price of any BPF program there (the dispatch), "
				 "against {:+.0f} ns for the tracked fault probe. What the fault probe does on top of the dispatch "
				 "is one lookup of the current tgid in the run's `procs` hash (the filter, paid by every process) "
				 "and, for tracked processes, one atomic add.\n\n",
				 a["value"].get<double>(), a["ci95"][0].get<double>(), a["ci95"][1].get<double>(),
				 j["fault"]["tracked"]["added_ns_per_fault"]["value"].get<double>());
	}
	s += "What was tried, and why the target is met by scope rather than by a cheaper probe: the add is already a "
	     "single atomic on a per-process record (no second lookup); a per-CPU counter would not remove the lookup "
	     "that identifies the process, and the lookup is also the filter; an earlier filter (by cgroup) would "
	     "spare untracked processes the lookup but not the dispatch, and not the measured process. So the "
	     "per-fault probes are **opt-in per workload**: `odfbench run --fault-probe auto` (the default) makes them "
	     "live only during cells of workloads whose measure is fault counts (post-fork-access); `on` keeps them "
	     "live for every cell, `off` never. Each cell records `fault_probe`, a cell without them lists its fault "
	     "metrics under `missing_metrics` with that reason, and getrusage counts stay in every trial.\n\n"
	     "On an ODF 6.0.6 kernel the per-fault set also holds the fentry/fexit pairs on `handle_cow_pte` and "
	     "`handle_mm_fault` (and `cow_pte_fallback`, whose fault/other split needs that window). Under TCG they "
	     "doubled the child's write phase of post-fork-access (about +12 µs per fault, both modes alike) and left "
	     "the fork call alone: docs/odf-findings.md, \"The probes' own cost on this kernel\".\n\n";
	if (j.contains("syscall")) {
		const auto &sc = j["syscall"];
		const auto &a = sc["added_ns_per_syscall"];
		std::string mech = "?";
		for (const auto &p : j["probes"])
			if (p["name"] == "clone_syscall")
				mech = p["mechanism"].get<std::string>();
		s += fmt::format("## Syscall tax\n\nAn untracked `getppid()`, the cheapest syscall: {:.0f} ns without the probes, "
				 "{:.0f} ns with: **{:+.1f} ns per syscall** [{:+.1f}, {:+.1f}]. `clone_syscall` is attached here as "
				 "`{}`. ",
				 sc["without_probes_ns"]["median"].get<double>(), sc["with_probes_ns"]["median"].get<double>(),
				 a["value"].get<double>(), a["ci95"][0].get<double>(), a["ci95"][1].get<double>(), mech);
		s += mech == "syscall-tracepoint"
			     ? "Programs run only on `syscalls:sys_{enter,exit}_{clone,clone3,fork,vfork}`; what every other "
			       "syscall pays is the kernel's syscall-tracepoint slow path (entry work flag on every task) and a "
			       "bitmap test. The fallback, a raw_tp program on every `sys_enter`/`sys_exit`, cost about four "
			       "times as much when measured here (+406 ns per getppid, 2026-11-27, under load).\n\n"
			     : "That fallback runs a program on every syscall on the machine; with tracefs syscall events the "
			       "suite attaches to the clone-family syscalls only.\n\n";
	}
	if (j.contains("program_cost")) {
		const auto &pc = j["program_cost"];
		s += "## In-kernel cost of each program\n\n";
		if (!pc["available"].get<bool>()) {
			s += fmt::format("Not available: {}.\n\n", pc["reason"].get<std::string>());
		} else {
			s += fmt::format("The kernel's own run count and run time of each attached program (`BPF_STATS_RUN_TIME`) "
					 "over {}. This is the program body only; the A/B figures above add the tracepoint or "
					 "trampoline dispatch around it, and it includes the two clock reads the kernel adds to every run "
					 "while it keeps these statistics.\n\n| program | runs | ns per run |\n|---|---|---|\n",
					 pc["workload"].get<std::string>());
			for (const auto &p : pc["programs"])
				s += fmt::format("| `{}` | {} | {} |\n", p["program"].get<std::string>(), p["runs"].get<uint64_t>(),
						 p["ns_per_run"].is_null() ? std::string("–")
									   : fmt::format("{:.1f}", p["ns_per_run"].get<double>()));
			s += "\n";
		}
	}
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
