#include "base/version.h"
#include "run/runner.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <fcntl.h>
#include <filesystem>
#include <sys/prctl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "odf/switch.h"
#include "base/sizes.h"
#include "base/stats.h"
#include "run/histograms.h"
#include "run/strategy.h"
#include "base/sysinfo.h"
#include "odf/tfork_guard.h"
#include "record/result_stream.h"
#include "base/kmsg.h"
#include "base/supervise.h"
#include "run/workload.h"

namespace odfb {

namespace {
// Newline-delimited JSON over a pipe, runner -> main.
void send(int fd, const nlohmann::json &j)
{
	std::string s = j.dump() + "\n";
	size_t off = 0;
	while (off < s.size()) {
		ssize_t n = write(fd, s.data() + off, s.size() - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);
		off += static_cast<size_t>(n);
	}
}

// One line per cell: its headline metric (the workload's first one that has
// a summary), median and 95% CI, and an outlier warning like hyperfine's.
void print_cell_line(const nlohmann::json &r)
{
	std::string what = fmt::format("{}: {}", r["status"].get<std::string>(), r.value("reason", ""));
	std::string headline, unit;
	if (r["status"] == "ok")
		for (const auto &m : r["metrics"])
			if (r["summary"].contains(m["name"]) && r["summary"][m["name"]].contains("median")) {
				headline = m["name"];
				unit = m["unit"];
				break;
			}
	if (!headline.empty()) {
		const auto &s = r["summary"][headline];
		bool ns = unit == "ns";
		double k = ns ? 1e3 : 1;
		std::string ci = s["ci95"].is_array()
					 ? fmt::format("[{:.1f}, {:.1f}]", s["ci95"][0].get<double>() / k, s["ci95"][1].get<double>() / k)
					 : "(no 95% CI at this n)";
		what = fmt::format("ok  {} median {:.1f}{} {} (n={})", ns && headline.ends_with("_ns") ? headline.substr(0, headline.size() - 3) : headline,
				   s["median"].get<double>() / k, ns ? " us" : "", ci, s["n"].get<int>());
	}
	fmt::print(stderr, "{:<16} {:>6} {:<10} {}\n", r["workload"].get<std::string>(), r["params"]["size"].get<std::string>(),
		   r["mode"].get<std::string>(), what);
	if (!headline.empty() && r["summary"][headline].value("outliers", 0) > 0)
		fmt::print(stderr, "  warning: {} statistical outliers in {}; consider more reps or a quieter machine\n",
			   r["summary"][headline]["outliers"].get<int>(), headline);
	if (r.contains("warning"))
		fmt::print(stderr, "  warning: {}\n", r["warning"].get<std::string>());
	if (r.contains("kernel_lines"))
		fmt::print(stderr, "  kernel {} ({} lines), first: {}\n", r["kernel_verdict"].get<std::string>(), r["kernel_lines"].size(),
			   r["kernel_lines"][0].get<std::string>());
}

std::string scratch_dir(pid_t runner) { return fmt::format("/tmp/odfbench-cell-{}", runner); }

// The runner: everything here happens in the fresh process tree.
[[noreturn]] void runner_main(const Experiment &e, uint64_t size, Mode mode, const OdfInfo &odf, const Probes &probes,
			      int out_fd, int in_fd)
{
	try {
		auto w = make_workload(e.workload);
		TrialEnv env;
		env.mode = mode;
		env.odf = &odf;
		env.procs = ProcTable(probes.procs_fd());
		env.hists = HistTable(probes.hists_fd(), probes.fault_gate_fd());
		for (const auto &s : probes.report()) {
			env.probe_attached[s.name] = s.attached && probes.live(s.name);
			env.probe_reason[s.name] = s.reason;
			if (s.attached && !probes.live(s.name))
				env.probe_reason[s.name] = "off for this cell: it runs on every page fault, and --fault-probe auto "
							   "makes the per-fault probes live only for workloads that measure faults "
							   "(--fault-probe on forces them)";
		}
		env.fork_fn = [] { return fork(); };
		env.scratch = scratch_dir(getpid());
		env.procs.track(getpid());
		Params p{size, e.params};
		nlohmann::json setup = w->setup(env, p);
		setup["vm_pte_kb_before_enable"] = proc_status_kb(getpid(), "VmPTE");
		setup["histograms_missing"] = histograms_missing(env);
		send(out_fd, {{"type", "setup"}, {"setup", setup}});

		nlohmann::json enable = nullptr;
		if (w->switches_odf_itself())
			enable = {{"mechanism", "by the workload, for the program it runs"}};
		else if (mode == Mode::Odf)
			enable = enable_in_process(env);
		else if (mode == Mode::OdfProcfs) {
			send(out_fd, {{"type", "enable-procfs"}});
			char c = 0;
			if (read(in_fd, &c, 1) != 1 || c != 'y')
				throw std::runtime_error("the main process could not enable ODF through procfs");
		}
		send(out_fd, {{"type", "enabled"}, {"enable", enable}});

		int total = e.warmup + e.reps;
		for (int i = 0; i < total; ++i) {
			env.hists.reset();
			nlohmann::json t = w->trial(env, p);
			t["histograms"] = trial_histograms(env);
			t["warmup"] = i < e.warmup;
			if (i == e.warmup)  // the first measured trial: after at least one fork
				t["use_odf_after"] = read_use_odf(getpid());
			send(out_fd, {{"type", "trial"}, {"trial", t}});
		}
		w.reset();  // the workload stops what it started (servers, helpers) before the runner goes
		send(out_fd, {{"type", "done"}});
		_exit(0);
	} catch (const std::exception &ex) {
		send(out_fd, {{"type", "error"}, {"message", ex.what()}});
		_exit(1);
	}
}

}  // namespace

namespace {

void progress_line(bool on, const std::string &s)
{
	if (on)
		fmt::print(stderr, "\r\033[K{}", s);
}

// What the cell's processes wrote to stderr, each line on a line of its own:
// the progress line is cleared first and drawn again after.
void relay_stderr(bool progress_on, const std::string &lines, const std::string &progress)
{
	if (lines.empty())
		return;
	fmt::print(stderr, "{}{}", progress_on ? "\r\033[K" : "", lines);
	progress_line(progress_on, progress);
}

nlohmann::json run_cell(const RunSpec &spec, const Cell &c, const OdfInfo &odf, Probes &probes, const RunOptions &opts,
			bool show_progress, size_t cell_no, size_t cells)
{
	const Experiment &e = spec.experiments[c.experiment];
	nlohmann::json r = {{"cell", c.index},
			    {"workload", e.workload},
			    {"mode", mode_name(c.mode)},
			    {"params", e.params},
			    {"status", "ok"},
			    {"reason", ""},
			    {"trials", nlohmann::json::array()}};
	r["params"]["size_bytes"] = c.size;
	r["params"]["size"] = format_size(c.size);
	std::string label = fmt::format("[{}/{}] {} {} {}", cell_no, cells, e.workload, format_size(c.size), mode_name(c.mode));
	auto wl = make_workload(e.workload);
	r["metrics"] = metrics_json(wl->metrics_for(Params{c.size, e.params}));

	if (auto why = wl->not_applicable(c.mode); !why.empty()) {
		r["status"] = "not-applicable";
		r["reason"] = why;
		return r;
	}
	if (auto why = strategy_unavailable(c.mode); !why.empty()) {
		r["status"] = "unavailable";
		r["reason"] = why;
		return r;
	}
	if (is_odf_mode(c.mode) && odf.variant == OdfVariant::None) {
		r["status"] = "unavailable";
		r["reason"] = fmt::format("kernel {} has no ODF ({}); nothing was measured under this mode", kernel_release(),
					  odf.evidence.empty() ? "not identified" : odf.evidence.front());
		r["evidence"] = odf.evidence;
		return r;
	}
	if (auto why = memory_guard(wl->footprint(Params{c.size, e.params}), opts.mem_fraction); !why.empty()) {
		r["status"] = "error";
		r["reason"] = "memory guard: " + why;
		return r;
	}
	bool fault_probe = opts.fault_probe == "on" || (opts.fault_probe == "auto" && wl->counts_faults());
	for (const auto &name : kPerFaultProbes)
		probes.set_live(name, fault_probe);
	r["fault_probe"] = fault_probe;

	std::unique_ptr<FolioSetting> folio;  // THP/mTHP knobs for this cell; restored when run_cell returns
	try {
		folio = std::make_unique<FolioSetting>(c.mode);
	} catch (const std::exception &ex) {
		r["status"] = "error";
		r["reason"] = ex.what();
		return r;
	}
	if (!folio->json().is_null())
		r["folio_setting"] = folio->json();
	probes.reset_tables();  // no record of an earlier cell's processes (or a reused pid) reaches this one
	int to_runner[2];  // the procfs handshake: main -> runner
	if (pipe2(to_runner, O_CLOEXEC))
		throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
	uint64_t t_start = now_ns();
	SupervisedGroup::Options group_options;
	group_options.capture_stderr = true;
	SupervisedGroup tree(
		[&](int out_fd) {
			close(to_runner[1]);
			runner_main(e, c.size, c.mode, odf, probes, out_fd, to_runner[0]);
		},
		group_options);
	pid_t runner = tree.pid();
	close(to_runner[0]);

	std::string buf;
	bool done = false, failed = false;
	int total = e.warmup + e.reps, seen = 0;
	std::string progress = label + " setting up";
	progress_line(show_progress, progress);
	while (!done) {
		if (interrupted()) {
			r["status"] = "error";
			r["reason"] = "interrupted";
			r["interrupted"] = true;
			break;
		}
		if (opts.cell_timeout_s > 0 && now_ns() - t_start > static_cast<uint64_t>(opts.cell_timeout_s) * 1'000'000'000ull) {
			r["status"] = "error";
			r["reason"] = fmt::format("hung: the cell did not finish within {} s (--cell-timeout); its process tree was killed",
						  opts.cell_timeout_s);
			failed = true;
			break;
		}
		auto got = tree.poll_output(buf, 200);
		relay_stderr(show_progress, tree.take_stderr_lines(), progress);
		if (got == SupervisedGroup::Output::Closed)
			break;  // runner gone
		size_t nl;
		while ((nl = buf.find('\n')) != std::string::npos) {
			auto msg = nlohmann::json::parse(buf.substr(0, nl));
			buf.erase(0, nl + 1);
			std::string type = msg["type"];
			if (type == "setup")
				r["setup"] = msg["setup"];
			else if (type == "enable-procfs") {
				char ok = 'y';
				try {
					r["enable"] = enable_procfs(runner);
				} catch (const std::exception &ex) {
					r["enable_error"] = ex.what();
					ok = 'n';
				}
				(void)!write(to_runner[1], &ok, 1);
			} else if (type == "enabled") {
				if (!msg["enable"].is_null())
					r["enable"] = msg["enable"];
			} else if (type == "trial") {
				r["trials"].push_back(msg["trial"]);
				++seen;
				progress = fmt::format("{} trial {}/{}{}", label, seen, total, seen <= e.warmup ? " (warmup)" : "");
				progress_line(show_progress, progress);
			} else if (type == "error") {
				r["status"] = "error";
				r["reason"] = msg["message"];
				failed = true;
			} else if (type == "done")
				done = true;
		}
	}
	// The runner and anything it left behind; a process stuck in the kernel
	// cannot be waited for, so 10 s at most.
	bool reaped = tree.stop(0, 10000);
	relay_stderr(show_progress, tree.take_stderr_lines(true), "");
	close(to_runner[1]);
	probes.reset_tables();
	std::error_code ec;
	std::filesystem::remove_all(scratch_dir(runner), ec);  // whatever the cell left, killed or not
	r["wall_ns"] = now_ns() - t_start;
	if (!reaped) {
		r["status"] = "error";
		r["reason"] = "the runner survived SIGKILL for 10 s (stuck in the kernel): the kernel looks wedged";
	} else if (!done && !failed && !r.contains("interrupted")) {
		r["status"] = "error";
		r["reason"] = fmt::format("runner {} before finishing", wait_status_text(tree.status()));
	}
	progress_line(show_progress, "");

	// Keep measured trials apart from warmup, then judge what ODF really did.
	nlohmann::json measured = nlohmann::json::array();
	for (auto &t : r["trials"])
		if (!t.value("warmup", false))
			measured.push_back(t);
	r["warmup_trials"] = r["trials"].size() - measured.size();
	r["trials"] = measured;
	if (auto h = cell_histograms(measured, r.contains("setup") ? r["setup"].value("histograms_missing", nlohmann::json::object())
								   : nlohmann::json::object());
	    !h.is_null())
		r["histograms"] = h;
	size_t verified = 0, shared = 0, judged = 0, flagged = 0;
	for (auto &t : measured) {
		verified += t.value("odf_verified", false);
		flagged += t.value("odf_flag_in_child", false);
		if (t.contains("sharing_observed")) {
			++judged;
			shared += t["sharing_observed"].get<bool>();
		}
	}
	r["odf_verified_trials"] = verified;
	if (r["status"] == "ok" && is_odf_mode(c.mode) && verified != measured.size()) {
		r["status"] = "error";
		// Flag on but nothing shared: the kernel had ODF on and chose not to
		// share (the paper kernel shares only whole 2 MiB windows of
		// private anonymous, non-heap VMAs).
		std::string why = !judged ? " (no page-table evidence: the sched_process_fork probe is missing or the region is under 8 MiB; see odf_evidence)"
				  : flagged ? fmt::format(" (the child's mm had the ODF flag in {} of them, but its page tables were copied, not shared)", flagged)
					    : "";
		r["reason"] = fmt::format("ODF was requested but verified in only {} of {} trials{}: not an ODF result", verified,
					  measured.size(), why);
	}
	judge_folio_trials(r, c.mode);
	std::vector<std::string> warnings;
	if (r["status"] == "ok" && !is_odf_mode(c.mode) && shared)
		warnings.push_back(fmt::format("{} classic-fork trials show fewer child page tables than the region needs", shared));
	// Loud, not zero: a process whose probe record vanished, or return probes
	// without their entry, mean metrics are missing from those trials.
	size_t untracked = 0, unmatched = 0;
	for (const auto &t : measured) {
		untracked += t.contains("untracked");
		for (auto &[k, v] : t.items())
			if (k.ends_with("_unmatched_returns") && v.is_number())
				unmatched += v.get<size_t>();
	}
	if (untracked)
		warnings.push_back(fmt::format("{} of {} trials had processes without a probe record (see trials[].untracked); "
					       "their probe metrics are absent, not zero", untracked, measured.size()));
	if (unmatched)
		warnings.push_back(fmt::format("{} return probes fired without their entry; those calls are not counted", unmatched));
	if (!warnings.empty()) {
		std::string w;
		for (const auto &s : warnings)
			w += (w.empty() ? "" : "; ") + s;
		r["warning"] = w;
	}
	r["summary"] = summarize_trials(measured);
	return r;
}
}  // namespace

std::vector<Cell> fit_to_memory(RunSpec &spec, const std::vector<Cell> &cells, const RunOptions &opts)
{
	std::vector<Cell> kept;
	for (const auto &c : cells) {
		const auto &e = spec.experiments[c.experiment];
		auto why = memory_guard(make_workload(e.workload)->footprint(Params{c.size, e.params}), opts.mem_fraction);
		if (why.empty())
			kept.push_back(c);
		else
			spec.capped.push_back(fmt::format("{} {} {}: {}", e.workload, format_size(c.size), mode_name(c.mode), why));
	}
	return kept;
}

void check_memory(const RunSpec &spec, const std::vector<Cell> &cells, const RunOptions &opts)
{
	for (const auto &c : cells) {
		const auto &e = spec.experiments[c.experiment];
		if (auto why = memory_guard(make_workload(e.workload)->footprint(Params{c.size, e.params}), opts.mem_fraction); !why.empty())
			throw SpecError(fmt::format("experiments[{}].sizes[{}]: {} {}", c.experiment, c.size_index, format_size(c.size), why));
	}
}

namespace {

// Which of the spec's cells this run holds: all, a shard, or a list (a
// resumed boot), and what the memory guard dropped.
nlohmann::json selection_json(const RunSpec &spec, const std::vector<Cell> &cells, const RunOptions &opts)
{
	std::vector<size_t> idx;
	for (const auto &c : cells)
		idx.push_back(c.index);
	nlohmann::json planned = nlohmann::json::array();
	for (const auto &c : cells)
		planned.push_back({{"cell", c.index},
				   {"experiment", c.experiment},
				   {"workload", spec.experiments[c.experiment].workload},
				   {"size", format_size(c.size)},
				   {"size_bytes", c.size},
				   {"mode", mode_name(c.mode)}});
	auto all = expand_cells(spec);
	nlohmann::json sel = {{"total_cells", all.size()},
			      {"shard", opts.shard ? nlohmann::json(opts.shard->text()) : nlohmann::json(nullptr)},
			      {"cells", format_cell_list(idx)},
			      {"planned", planned}};
	// Every shard's cells, so a merge can name what a missing shard held.
	if (opts.shard)
		for (int i = 1; i <= opts.shard->count; ++i) {
			std::vector<size_t> in;
			for (const auto &c : select_cells(all, Shard{i, opts.shard->count}, std::nullopt))
				in.push_back(c.index);
			sel["shard_cells"].push_back(in);
		}
	return sel;
}

}  // namespace

int run_spec(const RunSpec &spec, const std::vector<Cell> &cells, const OdfInfo &odf, Probes &probes, ResultsFile &out,
	     const RunOptions &opts)
{
	nlohmann::json doc = {
		{"schema", kSchemaVersion},
		{"tool", {{"name", "odfbench"}, {"version", kVersion}, {"git", kGitDescribe}}},
		{"run",
		 {{"status", "interrupted"},
		  {"started", utc_timestamp()},
		  {"finished", nullptr},
		  {"kernel", {{"release", kernel_release()}, {"btf", kernel_btf_present()}}},
		  {"odf", odf_json(odf)},
		  {"probes", probes.report_json()},
		  {"capabilities", probes.capabilities_json()},
		  {"fault_probe", opts.fault_probe},
		  {"host", host_json()},
		  {"environment", {{"vm", vm_environment()}}},
		  {"spec", spec.to_json()},
		  {"selection", selection_json(spec, cells, opts)}}},
		{"results", nlohmann::json::array()}};
	out.write(doc);  // a valid document from the first moment
	ResultStream stream(opts.stream_path);
	stream.send({{"event", "header"},
		     {"output", std::filesystem::path(out.path()).filename().string()},
		     {"planned", doc["run"]["selection"]["planned"]},
		     {"doc", doc}});
	prctl(PR_SET_CHILD_SUBREAPER, 1);  // no descendant outlives the run unseen

	bool show = opts.progress && isatty(2);
	uint64_t t0 = now_ns();
	bool any_error = false;
	KmsgReader kmsg;
	// In a guest the kernel is ours alone and slower (TCG): wait longer for an mm to be freed.
	int settle_ms = getenv("ODFBENCH_VM_INFO") ? 300 : 60;
	for (size_t i = 0; i < cells.size() && !interrupted(); ++i) {
		// Lines after the last cell's window and before this cell belong to neither: kept apart.
		for (auto &l : kernel_problem_lines(kmsg.drain()))
			doc["run"]["kernel_lines_between_cells"].push_back(l);
		stream.send({{"event", "cell-start"}, {"cell", cells[i].index}});
		auto r = run_cell(spec, cells[i], odf, probes, opts, show, i + 1, cells.size());
		// The cell's processes are reaped: what the kernel reported since it
		// started, once the log is quiet, is this cell's (a bad rss counter is
		// printed when a child's mm is freed, after the child is gone).
		if (auto lines = kernel_problem_lines(drain_settled(kmsg, settle_ms, 3000)); !lines.empty()) {
			bool fatal = false;
			for (const auto &l : lines)
				fatal |= classify_kernel_line(l) == KernelLine::Fatal;
			r["kernel_lines"] = lines;
			r["kernel_verdict"] = fatal ? "fatal" : "warnings";
		}
		any_error |= r["status"] == "error" && !r.contains("interrupted");
		doc["results"].push_back(r);
		if (!interrupted())
			out.write(doc);
		stream.send({{"event", "cell"}, {"result", r}});
		print_cell_line(r);
	}
	doc["run"]["finished"] = utc_timestamp();
	doc["run"]["wall_ns"] = now_ns() - t0;
	doc["run"]["status"] = interrupted() ? "interrupted" : any_error ? "failed" : "complete";
	out.write(doc);
	stream.send({{"event", "finish"}, {"run", {{"finished", doc["run"]["finished"]}, {"wall_ns", doc["run"]["wall_ns"]}, {"status", doc["run"]["status"]}}}});
	fmt::print(stderr, "results: {} ({})\n", out.path(), doc["run"]["status"].get<std::string>());
	return interrupted() ? 130 : any_error ? 1 : 0;
}

}  // namespace odfb
