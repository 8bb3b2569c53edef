// odfbench: the command line.  doctor | list | run
#include <cstdio>
#include <iostream>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "check.h"
#include "compare.h"
#include "odf_detect.h"
#include "odf_switch.h"
#include "overhead.h"
#include "probes.h"
#include "results_file.h"
#include "runner.h"
#include "sizes.h"
#include "spec.h"
#include "sysinfo.h"
#include "tfork_guard.h"
#include "vm.h"
#include "workload.h"

using namespace odfb;

namespace {

[[noreturn]] void die(const std::string &msg, int code = 2)
{
	fmt::print(stderr, "odfbench: error: {}\n", msg);
	std::exit(code);
}

struct ProbeFlags {
	bool verbose = false, no_fentry = false, no_kprobe = false, no_tp_btf = false;
	std::string btf;
	ProbeOptions options() const { return {verbose, !no_fentry, !no_kprobe, !no_tp_btf, btf}; }
	void add(CLI::App *app)
	{
		app->add_flag("-v,--verbose", verbose, "Print libbpf's log");
		app->add_flag("--no-fentry", no_fentry, "Do not use fentry/fexit (test the kprobe fallback)");
		app->add_flag("--no-kprobe", no_kprobe, "Do not use kprobes");
		app->add_flag("--no-tp-btf", no_tp_btf, "Do not use tp_btf (test the raw_tp fallback)");
		app->add_option("--btf", btf, "BTF of the running kernel for CO-RE, when it has no /sys/kernel/btf/vmlinux "
					      "(e.g. made with `pahole --btf_encode_detached` from its vmlinux)");
	}
};

int cmd_doctor(bool as_json, const ProbeFlags &pf)
{
	OdfInfo odf = detect_odf();
	nlohmann::json j = {{"kernel", {{"release", kernel_release()}, {"btf", kernel_btf_present()}}},
			    {"odf", odf.to_json()},
			    {"use_odf_present", odf.use_odf_present},
			    {"thp", thp_mode()},
			    {"host", host_json()},
			    {"environment", {{"vm", vm_environment()}}},
			    {"tool", {{"version", ODFBENCH_VERSION}, {"git", ODFBENCH_GIT}}}};
	std::string why;
	if (!have_bpf_privileges(why)) {
		j["probes"] = nlohmann::json::array();
		j["probe_error"] = why;
	} else {
		try {
			auto probes = Probes::open(odf, pf.options());
			j["probes"] = probes->report_json();
			j["capabilities"] = probes->capabilities_json();
		} catch (const std::exception &e) {
			j["probes"] = nlohmann::json::array();
			j["probe_error"] = e.what();
		}
	}
	if (as_json) {
		std::cout << j.dump(2) << "\n";
		return j.contains("probe_error") ? 1 : 0;
	}
	fmt::print("kernel      {}  (BTF: {})\n", j["kernel"]["release"].get<std::string>(), kernel_btf_present() ? "yes" : "no");
	fmt::print("odf         {}\n", variant_name(odf.variant));
	for (const auto &e : odf.evidence)
		fmt::print("              - {}\n", e);
	fmt::print("use_odf     {}\n", odf.use_odf_present ? "present" : "absent");
	if (auto g = tfork_guard_json(); !g.is_null())
		fmt::print("guard       {}\n", g["rule"].get<std::string>());
	fmt::print("thp         {}\n", thp_mode());
	if (j.contains("probe_error"))
		fmt::print("probes      not loaded: {}\n", j["probe_error"].get<std::string>());
	for (const auto &p : j["probes"])
		fmt::print("probe       {:<22} {:<4} {:<10} {}\n", p["name"].get<std::string>(), p["attached"] ? "yes" : "no",
			   p["mechanism"].get<std::string>(), p["reason"].get<std::string>());
	return j.contains("probe_error") ? 1 : 0;
}

int cmd_list(bool as_json)
{
	nlohmann::json j = {{"workloads", nlohmann::json::array()}, {"probes", nlohmann::json::array()}};
	for (const auto &n : workload_names()) {
		auto w = make_workload(n);
		j["workloads"].push_back({{"name", n}, {"description", w->description()}, {"metrics", w->metrics()}});
	}
	for (const char *p : {"sched_process_fork", "clone_syscall", "page_fault_user", "copy_page_range", "copy_page_range_tfork",
			      "copy_pte_range", "handle_cow_pte", "cow_pte_fallback", "handle_mm_fault", "tfork_one_pte_table"})
		j["probes"].push_back(p);
	j["modes"] = {"fork", "odf", "odf-procfs"};
	if (as_json) {
		std::cout << j.dump(2) << "\n";
		return 0;
	}
	fmt::print("workloads:\n");
	for (const auto &w : j["workloads"])
		fmt::print("  {:<16} {}\n", w["name"].get<std::string>(), w["description"].get<std::string>());
	fmt::print("modes:\n  fork, odf, odf-procfs\nprobes:\n");
	for (const auto &p : j["probes"])
		fmt::print("  {}\n", p.get<std::string>());
	return 0;
}

}  // namespace

// `odfbench __odf-probe`: exec'd by the odf-interface checks.  Prints this
// process's use_odf before and after one fork; switches nothing itself.
int odf_probe()
{
	std::string before = read_use_odf(getpid());
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, nullptr, 0);
	fmt::print("before={} after={}\n", before.empty() ? "absent" : before, read_use_odf(getpid()));
	return 0;
}

int cmd_check(const std::string &modes, bool as_json, bool markdown, const std::string &output, int timeout_s,
	      const std::string &only, bool no_progress)
{
	CheckOptions o;
	o.modes.clear();
	std::string m;
	std::stringstream ss(modes);
	while (std::getline(ss, m, ',')) {
		Mode mode = parse_mode(m);  // throws naming the mode
		if (mode == Mode::OdfProcfs)
			throw std::invalid_argument("check runs under fork and odf (odf-procfs switches the same kernel state)");
		o.modes.push_back(mode);
	}
	if (o.modes.empty())
		throw std::invalid_argument("--modes: empty");
	if (timeout_s < 1)
		throw std::invalid_argument(fmt::format("--timeout: {} is out of range [1, 3600]", timeout_s));
	o.timeout_s = timeout_s;
	o.only = only;
	o.progress = !no_progress;
	bool matched = only.empty();
	for (const auto &c : all_checks())
		matched |= c.name.find(only) != std::string::npos;
	if (!matched)
		throw std::invalid_argument(fmt::format("--only: no check name contains \"{}\"", only));
	std::unique_ptr<ResultsFile> out;
	if (!output.empty())
		out = std::make_unique<ResultsFile>(output);  // claimed before any check runs
	if (out)
		o.checkpoint = [&](const nlohmann::json &doc, const nlohmann::json &current) {
			nlohmann::json partial = doc;
			partial["checks"].push_back(current);
			partial["status"] = "interrupted";  // until the last write says otherwise
			out->write(partial);
		};
	install_signal_handlers();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	auto doc = run_checks(detect_odf(), o);
	if (out)
		out->write(doc);
	if (as_json)
		std::cout << doc.dump(2) << "\n";
	else if (markdown)
		std::cout << checks_markdown(doc);
	else
		std::cout << checks_text(doc);
	bool bad = doc["status"] != "complete";
	for (const auto &c : doc["checks"])
		for (const auto &[mode, r] : c["results"].items())
			bad |= r["status"] == "fail" || r["status"] == "crashed" || r["status"] == "hung" || r["status"] == "error";
	if (out)
		fmt::print(stderr, "check: {}\n", out->path());
	return interrupted() ? 130 : bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	// First, before anything can call faccessat(): see tfork_guard.h.
	if (struct stat st; stat("/proc/self/use_odf", &st) == 0) {
		try {
			install_tfork_guard(detect_odf());
		} catch (const std::exception &e) {
			die(e.what(), 1);
		}
	}
	if (argc == 2 && std::string(argv[1]) == "__odf-probe")
		return odf_probe();
	set_protected_pid(getpid());
	CLI::App app{"odfbench: eBPF-instrumented evaluation of On-Demand-Fork (EuroSys'21)"};
	app.require_subcommand(1);
	app.set_version_flag("--version", std::string(ODFBENCH_VERSION) + " (" + ODFBENCH_GIT + ")");

	bool json = false;
	ProbeFlags pf;
	auto *doctor = app.add_subcommand("doctor", "Report the kernel, the ODF variant and every probe's mechanism");
	doctor->add_flag("--json", json, "JSON output");
	pf.add(doctor);

	bool list_json = false;
	auto *list = app.add_subcommand("list", "List workloads, modes and probes");
	list->add_flag("--json", list_json, "JSON output");

	auto *run = app.add_subcommand("run", "Run an experiment spec, or one given by flags");
	std::string spec_path, workload, sizes, modes, output, params_json;
	int reps = -1, warmup = -1;
	bool no_progress = false;
	run->add_option("spec", spec_path, "Experiment spec (JSON), e.g. bench/fork-latency-quick.json");
	run->add_option("-w,--workload", workload, "Workload name (see `odfbench list`)");
	run->add_option("-s,--sizes", sizes, "Footprints, e.g. 64M,256M,1G");
	run->add_option("-m,--modes", modes, "fork,odf,odf-procfs");
	run->add_option("-n,--reps", reps, "Measured trials per cell");
	run->add_option("--warmup", warmup, "Warmup trials per cell (not summarized)");
	run->add_option("-o,--output", output, "Results file (must not exist); default results/<name>-<time>.json");
	run->add_option("--params", params_json, "Workload parameters as a JSON object, e.g. '{\"thp\":true}'");
	run->add_flag("--no-progress", no_progress, "No progress line");
	std::string fault_probe = "auto";
	run->add_option("--fault-probe", fault_probe,
			"Per-fault probes (page_fault_user; on ODF 6.0.6 also handle_cow_pte, handle_mm_fault, "
			"cow_pte_fallback): auto (live only for workloads that measure faults), on, off")
		->check(CLI::IsMember({"auto", "on", "off"}))
		->capture_default_str();
	int cell_timeout = 1800;
	run->add_option("--cell-timeout", cell_timeout, "Seconds before a (workload, size, mode) cell counts as hung and is killed")
		->capture_default_str();
	pf.add(run);

	std::string check_modes = "fork,odf", check_out, check_only;
	bool check_json = false, check_md = false, check_no_progress = false;
	int check_timeout = 30;
	auto *check = app.add_subcommand("check", "ODF correctness matrix: semantic tests under fork and under ODF");
	check->add_option("-m,--modes", check_modes, "fork,odf")->capture_default_str();
	check->add_flag("--json", check_json, "JSON on stdout");
	check->add_flag("--markdown", check_md, "The matrix as a markdown table");
	check->add_option("-o,--output", check_out, "Also write the JSON here (must not exist)");
	check->add_option("--timeout", check_timeout, "Seconds per test before it counts as hung")->capture_default_str();
	check->add_option("--only", check_only, "Run only this check (exact name), or those whose name contains this");
	check->add_flag("--no-progress", check_no_progress, "No progress line");
	bool check_list = false;
	check->add_flag("--list", check_list, "List the checks (one name per line) and exit");

	std::vector<std::string> cmp_files;
	std::string cmp_md;
	bool cmp_json = false;
	auto *compare = app.add_subcommand("compare", "Fork vs ODF per workload and size, and across results files (kernels)");
	compare->add_option("results", cmp_files, "Results files; the first is the baseline for the across-runs table")->required();
	compare->add_option("--markdown", cmp_md, "Markdown file to write (must not exist); default results/compare-<time>.md");
	compare->add_flag("--json", cmp_json, "JSON on stdout instead of the table");

	OverheadOptions ovo, ov_flags;
	std::string ov_out, ov_md, ov_sizes = "256M,1G", ov_config;
	auto *overhead = app.add_subcommand("overhead", "Probe overhead: fork and fault cost with vs without probes, timer, prefault");
	overhead->add_option("config", ov_config, "Overhead config (bench/overhead.json); flags override it");
	auto *ov_reps = overhead->add_option("-n,--reps", ov_flags.reps, "Fork pairs per size")->capture_default_str();
	auto *ov_sizes_opt = overhead->add_option("-s,--sizes", ov_sizes, "Fork footprints")->capture_default_str();
	auto *ov_freps = overhead->add_option("--fault-reps", ov_flags.fault_reps, "Page-fault and syscall pairs")->capture_default_str();
	overhead->add_option("-o,--output", ov_out, "Results JSON (must not exist); default results/overhead-<time>.json");
	overhead->add_option("--markdown", ov_md, "Also write the report here, replacing it (docs/performance.md)");
	std::string ov_report;
	overhead->add_option("--report", ov_report, "Measure nothing: write the report of an earlier overhead JSON")
		->check(CLI::ExistingFile);

	VmOptions vmo;
	std::string vm_mem = "4G";
	auto *vm = app.add_subcommand("vm", "Run an odfbench command under a kernel image in a QEMU guest");
	vm->add_option("--kernel", vmo.kernel, "Kernel image (bzImage / vmlinuz)")->required();
	vm->add_option("--mem", vm_mem, "Guest memory")->capture_default_str();
	vm->add_option("--smp", vmo.smp, "Guest CPUs")->capture_default_str();
	vm->add_option("--timeout", vmo.timeout_s, "Hard limit in seconds; QEMU is killed after it")->capture_default_str();
	vm->add_option("--boot-timeout", vmo.boot_timeout_s, "Seconds until the guest's init must speak")->capture_default_str();
	vm->add_option("--silence", vmo.silence_s, "Seconds without console output that count as a hung guest")->capture_default_str();
	vm->add_option("--accel", vmo.accel, "auto, kvm or tcg")->capture_default_str();
	vm->add_option("--qemu", vmo.qemu, "QEMU binary")->capture_default_str();
	vm->add_option("--busybox", vmo.busybox, "Statically linked busybox for the guest")->capture_default_str();
	vm->add_option("--results-dir", vmo.results_dir, "Where the guest's results land on the host")->capture_default_str();
	vm->add_option("--append", vmo.append, "Extra kernel command line");
	vm->add_flag("--hide-btf", vmo.hide_btf, "Hide /sys/kernel/btf in the guest, to see how a kernel without BTF behaves");
	vm->add_option("command", vmo.args, "The odfbench command to run in the guest, after --");

	try {
		app.parse(argc, argv);
	} catch (const CLI::CallForHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForVersion &e) {
		return app.exit(e);
	} catch (const CLI::ParseError &e) {
		die(e.what());
	}

	if (*doctor)
		return cmd_doctor(json, pf);
	if (*list)
		return cmd_list(list_json);
	if (*overhead && !ov_report.empty()) {
		nlohmann::json j;
		try {
			j = read_json_file(ov_report, "--report");
		} catch (const SpecError &e) {
			die(e.what());
		}
		if (!j.is_object() || j.value("kind", "") != "odfbench-overhead")
			die(fmt::format("--report {}: not an odfbench overhead results file", ov_report));
		try {
			std::string md = overhead_markdown(j);
			std::cout << md;
			if (!ov_md.empty())
				replace_file_atomically(ov_md, md);
			return 0;
		} catch (const std::exception &e) {
			die(fmt::format("--report {}: {}", ov_report, e.what()), 1);
		}
	}
	if (*overhead) {
		std::string why;
		if (!have_bpf_privileges(why))
			die(why);
		RunSpec probe_spec;
		try {
			if (!ov_config.empty())
				ovo = load_overhead_config(ov_config);
			if (ov_reps->count())
				ovo.reps = ov_flags.reps;
			if (ov_freps->count())
				ovo.fault_reps = ov_flags.fault_reps;
			if (ov_sizes_opt->count() || ov_config.empty())
				ovo.sizes = parse_size_list(ov_sizes, "--sizes");
			validate(ovo);
			uint64_t biggest = std::max(*std::max_element(ovo.sizes.begin(), ovo.sizes.end()), ovo.prefault_bytes);
			if (auto m = memory_guard(biggest, 0.8); !m.empty())
				throw SpecError(fmt::format("overhead: {} {}", format_size(biggest), m));
		} catch (const SpecError &e) {
			die(e.what());
		}
		std::unique_ptr<ResultsFile> out;
		try {
			out = std::make_unique<ResultsFile>(ov_out.empty() ? ResultsFile::default_path("results", "overhead") : ov_out);
		} catch (const std::exception &e) {
			die(e.what());
		}
		install_signal_handlers();
		try {
			auto probes = Probes::open(detect_odf());
			auto j = measure_overhead(*probes, ovo);
			out->write(j);
			std::string md = overhead_markdown(j);
			std::cout << md;
			if (!ov_md.empty())
				replace_file_atomically(ov_md, md);
			fmt::print(stderr, "overhead: {}\n", out->path());
			return j["status"] == "complete" ? 0 : 130;
		} catch (const std::exception &e) {
			die(e.what(), 1);
		}
	}
	if (*compare) {
		std::vector<nlohmann::json> docs;
		try {
			for (const auto &f : cmp_files)
				docs.push_back(load_results(f));
		} catch (const std::invalid_argument &e) {
			die(e.what());
		}
		std::unique_ptr<ResultsFile> md;
		try {
			md = std::make_unique<ResultsFile>(cmp_md.empty() ? ResultsFile::default_path("results", "compare", ".md") : cmp_md);
		} catch (const std::exception &e) {
			die(e.what());
		}
		auto c = compare_runs(cmp_files, docs);
		md->write_text(compare_markdown(c));
		if (cmp_json)
			std::cout << c.dump(2) << "\n";
		else
			std::cout << compare_text(c);
		std::cout.flush();
		fmt::print(stderr, "compare: {}\n", md->path());
		return 0;
	}
	if (*check && check_list) {
		for (const auto &c : all_checks())
			fmt::print("{}\n", c.name);
		return 0;
	}
	if (*check) {
		std::string why;
		if (geteuid() != 0)
			die("check needs root (it reads /dev/kmsg and /proc/<pid>/use_odf of its children)");
		try {
			return cmd_check(check_modes, check_json, check_md, check_out, check_timeout, check_only, check_no_progress);
		} catch (const std::invalid_argument &e) {
			die(e.what());
		} catch (const std::exception &e) {
			die(e.what(), 1);
		}
	}
	if (*vm) {
		try {
			vmo.mem_bytes = parse_size(vm_mem);
			return run_vm(vmo);
		} catch (const std::invalid_argument &e) {
			die(fmt::format("vm: {}", e.what()));
		} catch (const std::exception &e) {
			die(fmt::format("vm: {}", e.what()), 3);
		}
	}

	// run: validate everything before any work starts.
	RunSpec spec;
	try {
		if (!spec_path.empty()) {
			if (!workload.empty() || !sizes.empty() || !modes.empty() || !params_json.empty())
				throw SpecError("give either a spec file or --workload/--sizes/--modes/--params, not both");
			spec = load_spec_file(spec_path);
			for (auto &e : spec.experiments) {
				if (reps >= 0)
					e.reps = reps;
				if (warmup >= 0)
					e.warmup = warmup;
			}
		} else {
			if (workload.empty())
				throw SpecError("--workload is required without a spec file");
			nlohmann::json j = {{"workload", workload}};
			if (sizes.empty())
				throw SpecError("--sizes is required without a spec file");
			j["sizes"] = sizes;
			if (!modes.empty())
				j["modes"] = modes;
			if (reps != -1)
				j["reps"] = reps;
			if (warmup != -1)
				j["warmup"] = warmup;
			if (!params_json.empty()) {
				try {
					j["params"] = nlohmann::json::parse(params_json);
				} catch (const nlohmann::json::parse_error &) {
					throw SpecError(fmt::format("--params: not valid JSON: {}", params_json));
				}
			}
			spec = parse_spec(j);
		}
		if (!output.empty())
			spec.output = output;
		if (reps == 0 || reps < -1)
			throw SpecError(fmt::format("--reps: {} is out of range [1, 1000000]", reps));
		if (warmup < -1)
			throw SpecError(fmt::format("--warmup: {} is out of range [0, 1000000]", warmup));
	} catch (const SpecError &e) {
		die(e.what());
	}

	std::string why;
	if (!have_bpf_privileges(why))
		die(why);
	RunOptions ropts;
	ropts.progress = !no_progress;
	if (cell_timeout < 1)
		die(fmt::format("--cell-timeout: {} is out of range [1, 1000000]", cell_timeout));
	ropts.cell_timeout_s = cell_timeout;
	ropts.fault_probe = fault_probe;
	try {
		if (spec.fit_to_memory) {
			fit_to_memory(spec, ropts);
			for (const auto &c : spec.capped)
				fmt::print(stderr, "capped: {}\n", c);
			if (spec.experiments.empty())
				throw SpecError("every size of this spec is beyond the memory guard on this machine");
		}
		check_memory(spec, ropts);
	} catch (const SpecError &e) {
		die(e.what());
	}
	std::unique_ptr<ResultsFile> out;
	try {
		out = std::make_unique<ResultsFile>(spec.output ? *spec.output : ResultsFile::default_path("results", spec.name));
	} catch (const std::exception &e) {
		die(e.what());
	}
	OdfInfo odf = detect_odf();
	std::unique_ptr<Probes> probes;
	try {
		probes = Probes::open(odf, pf.options());
	} catch (const std::exception &e) {
		unlink(out->path().c_str());
		die(e.what());
	}
	install_signal_handlers();
	try {
		return run_spec(spec, odf, *probes, *out, ropts);
	} catch (const std::exception &e) {
		die(e.what(), 1);
	}
}
