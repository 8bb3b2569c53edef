#include "vm/vm.h"
#include "vm/carried.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <thread>
#include <fstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "vm/cpio.h"
#include "base/supervise.h"
#include "base/sizes.h"
#include "base/sysinfo.h"
#include "kernel/build.h"
#include "base/cell_list.h"
#include "vm/stream.h"

namespace fs = std::filesystem;

namespace odfb {

namespace {

std::string first_line_of(const std::string &cmd)
{
	std::string out;
	if (FILE *f = popen(cmd.c_str(), "r")) {
		char buf[512];
		if (fgets(buf, sizeof(buf), f))
			out = buf;
		pclose(f);
	}
	while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
		out.pop_back();
	return out;
}

// A Linux x86 boot image carries "HdrS" at 0x202 (Documentation/x86/boot.rst).
bool is_bzimage(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	char magic[4] = {};
	in.seekg(0x202);
	return in.read(magic, 4) && std::memcmp(magic, "HdrS", 4) == 0;
}

void write_file_exclusive(const std::string &path, const std::string &data)
{
	if (auto parent = fs::path(path).parent_path(); !parent.empty())
		fs::create_directories(parent);
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		throw std::runtime_error(fmt::format("{}: {}", path, strerror(errno)));
	size_t off = 0;
	while (off < data.size()) {
		ssize_t n = write(fd, data.data() + off, data.size() - off);
		if (n <= 0) {
			close(fd);
			throw std::runtime_error(fmt::format("{}: write: {}", path, strerror(errno)));
		}
		off += n;
	}
	close(fd);
}

// Everything is checked before QEMU starts.  Returns QEMU's path.
std::string check_options(const VmOptions &o, const std::vector<KernelChoice> &kernels)
{
	if (kernels.empty())
		throw std::invalid_argument("--kernel is required");
	for (const auto &k : kernels) {
		if (access(k.image.c_str(), R_OK) != 0)
			throw std::invalid_argument(fmt::format("--kernel {}: {}", k.image, strerror(errno)));
		if (!is_bzimage(k.image))
			throw std::invalid_argument(fmt::format("--kernel {}: not a Linux x86 boot image (no \"HdrS\" header; give the bzImage/vmlinuz, not vmlinux)", k.image));
	}
	if (o.boots < 1 || o.boots > 100)
		throw std::invalid_argument(fmt::format("--boots: {} is out of range [1, 100]", o.boots));
	if (o.jobs < 1 || o.jobs > 16)
		throw std::invalid_argument(fmt::format("--jobs: {} is out of range [1, 16]", o.jobs));
	const CarriedCommand &cmd = carried_command(o.args.empty() ? "" : o.args[0]);
	if (o.jobs > 1 && (!cmd.units || kernels.size() > 1))
		throw std::invalid_argument("--jobs is for check on one kernel: odfbench vm --kernel K --jobs N -- check");
	if (o.jobs > 1)
		if (auto why = memory_guard(o.mem_bytes * o.jobs); !why.empty())
			throw std::invalid_argument(fmt::format("--jobs {} x --mem {}: {}", o.jobs, format_size(o.mem_bytes), why));
	if ((kernels.size() > 1 || o.boots > 1) && !cmd.several_kernels)
		throw std::invalid_argument("several kernels or --boots need a run command: odfbench vm --kernel A --kernel B --boots N -- run SPEC");
	if (o.args.empty())
		throw std::invalid_argument("no guest command: give one after --, e.g. odfbench vm --kernel K -- doctor --json");
	if (o.args[0] == "vm")
		throw std::invalid_argument("the guest command cannot be vm itself");
	if (o.smp < 1 || o.smp > 64)
		throw std::invalid_argument(fmt::format("--smp: {} is out of range [1, 64]", o.smp));
	if (o.mem_bytes < (256ull << 20))
		throw std::invalid_argument(fmt::format("--mem: {} is too small (at least 256M)", format_size(o.mem_bytes)));
	if (auto why = memory_guard(o.mem_bytes); !why.empty())
		throw std::invalid_argument(fmt::format("--mem: {}", why));
	if (o.timeout_s < 10 || o.boot_timeout_s < 5 || o.silence_s < 15)
		throw std::invalid_argument("--timeout must be >= 10 s, --boot-timeout >= 5 s and --silence >= 15 s");
	std::string qemu = find_program(o.qemu);
	if (qemu.empty())
		throw std::invalid_argument(fmt::format("{} not found (Debian: apt-get install qemu-system-x86)", o.qemu));
	std::string why;
	if (!elf_is_static(o.busybox, why))
		throw std::invalid_argument(fmt::format("busybox: {} (Debian: apt-get install busybox-static)", why));
	if (!elf_is_static("/proc/self/exe", why))
		throw std::invalid_argument(fmt::format("odfbench itself: {}", why));
	if (access(o.results_dir.c_str(), F_OK) == 0 && access(o.results_dir.c_str(), W_OK) != 0)
		throw std::invalid_argument(fmt::format("{}: results directory is not writable", o.results_dir));
	return qemu;
}

// The archive the guest sent on ttyS1; error says why there is none.
std::vector<CpioEntry> read_results(const std::string &path, std::string &error)
{
	std::string archive;
	try {
		archive = read_host_file(path);
	} catch (const std::exception &) {
	}
	std::vector<CpioEntry> entries;
	if (archive.empty())
		error = "the guest sent no results";
	else
		try {
			entries = read_cpio(archive);
		} catch (const std::exception &e) {
			error = e.what();
		}
	return entries;
}

struct GuestResults {
	int rc = 3;
	bool have_rc = false;
	bool store_failed = false;
};

// The guest's stdout goes to ours, its results/ files to the host paths the
// plan mapped them to (else into results_dir), never over an existing file.
GuestResults unpack_results(const std::vector<CpioEntry> &entries, const GuestPlan &plan, const std::string &results_dir,
			    const std::string &streamed = "")
{
	GuestResults r;
	for (const auto &e : entries) {
		if (!S_ISREG(e.mode))
			continue;
		if (streamed == "*" && (e.name == "stdout" || e.name.rfind("results/", 0) == 0))
			continue;
		if (e.name == "stdout") {
			fwrite(e.data.data(), 1, e.data.size(), stdout);
			fflush(stdout);
		} else if (e.name == "rc") {
			r.rc = std::atoi(e.data.c_str());
			r.have_rc = true;
		} else if (e.name.rfind("results/", 0) == 0) {
			std::string name = e.name.substr(8);
			if (name == streamed)
				continue;  // assembled on the host from the stream, across boots
			std::string host = fs::path(results_dir) / name;
			for (const auto &[gname, hpath] : plan.outputs)
				if (gname == name)
					host = hpath;
			try {
				write_file_exclusive(host, e.data);
				fmt::print(stderr, "vm: results from the guest: {}\n", host);
			} catch (const std::exception &ex) {
				fmt::print(stderr, "odfbench: error: vm: cannot store the guest's {}: {}\n", e.name, ex.what());
				r.store_failed = true;
			}
		}
	}
	return r;
}

}  // namespace

namespace {

// The guest command for one kernel: a detached BTF goes to run/doctor/check
// as --btf unless the user gave one.
std::vector<std::string> guest_args(const std::vector<std::string> &args, const KernelChoice &k)
{
	std::vector<std::string> a = args;
	bool probes = !a.empty() && carried_command(a[0]).loads_probes;
	if (probes && !k.btf.empty() && std::find(a.begin(), a.end(), "--btf") == a.end())
		a.insert(a.begin() + 1, {"--btf", k.btf});
	return a;
}

// `--cells LIST` in place of any the user gave (a resumed boot runs what is left).
std::vector<std::string> with_cells(std::vector<std::string> a, const std::vector<size_t> &cells)
{
	for (size_t i = 0; i + 1 < a.size(); ++i)
		if (a[i] == "--cells") {
			a.erase(a.begin() + i, a.begin() + i + 2);
			break;
		}
	a.insert(a.begin() + 1, {"--cells", format_cell_list(cells)});
	return a;
}

std::string label_of(const std::string &arg, const KernelChoice &k)
{
	return k.provenance.is_object() ? k.provenance.value("variant", arg) : fs::path(arg).filename().string();
}

struct Slot {
	std::vector<StreamedRun> runs;
	std::vector<BootRecord> records;
	nlohmann::json merged;  // null when the command streamed nothing
	bool check = false;     // merged is a check document
	int rc = 3;             // the exit code when nothing was streamed
};

class VmSession {
public:
	VmSession(VmOptions o, std::string qemu, int first_boot = 0)
		: o_(std::move(o)), qemu_(std::move(qemu)), accel_(choose_accelerator(o_.accel)), next_boot_(first_boot)
	{
		char tmpl[] = "/tmp/odfbench-vm-XXXXXX";
		if (!mkdtemp(tmpl))
			throw std::runtime_error(fmt::format("mkdtemp: {}", strerror(errno)));
		tmp_ = tmpl;
		qemu_version_ = first_line_of(shell_quote(qemu_) + " --version");
	}
	~VmSession()
	{
		std::error_code ec;
		fs::remove_all(tmp_, ec);
	}

	// Boots `k` until the command's cells are all done or crashed (resuming
	// after kernel crashes when allowed), or anything else stops it.
	Slot run_slot(const std::string &label, const KernelChoice &k, const std::vector<std::string> &base_args, const GuestPlan &plan0)
	{
		Slot slot;
		GuestPlan plan = plan0;
		plan.args = base_args;  // a --jobs share carries its own --cells
		for (;;) {
			int boot = next_boot_++;
			Boot b = boot_once(k, label, plan, boot);
			StreamedRun sr;
			try {
				std::string events = read_host_file(stream_path(boot));
				if (b.stream_bytes_at_crash >= 0 && static_cast<size_t>(b.stream_bytes_at_crash) < events.size())
					events.resize(b.stream_bytes_at_crash);  // only what came before the kernel's first bug report
				sr = parse_stream(events);
			} catch (const std::exception &) {
			}
			BootRecord rec{boot, label, outcome_name(b.outcome), b.outcome == BootOutcome::Finished ? "finished" : describe_failure(b, o_),
				       b.crash, b.seconds, vm_info(k, label, boot)};
			std::string archive_error;
			auto entries = read_results(results_path(boot), archive_error);
			if (sr.header.is_null()) {  // a command that does not stream (doctor): one boot
				slot.rc = finish_plain(b, entries, archive_error, plan);
				return slot;
			}
			bool check = sr.header.value("kind", "") == "odfbench-check";
			slot.check = check;
			// A check that found the kernel wedged skips the rest; a fresh boot runs them.
			size_t wedged = 0;
			if (check)
				for (auto it = sr.results.begin(); it != sr.results.end();) {
					bool skipped = false;
					for (auto &[m, v] : it->second["results"].items())
						skipped |= v.value("status", "") == "skipped" && v.value("detail", "").rfind("the kernel is wedged", 0) == 0;
					if (skipped) {
						it = sr.results.erase(it);
						++wedged;
					} else
						++it;
				}
			slot.runs.push_back(sr);
			slot.records.push_back(rec);
			if (b.outcome == BootOutcome::Finished && archive_error.empty()) {
				// The command's own output and results are made on the host, from every boot.
				GuestResults r = unpack_results(entries, plan, o_.results_dir, check ? "*" : sr.output);
				slot.rc = r.have_rc ? r.rc : 3;
			}
			if (b.outcome != BootOutcome::Finished) {
				fmt::print(stderr, "vm: boot {} ({}): {} after {:.0f} s; {} cells finished in it\n", boot, label, rec.detail,
					   b.seconds, sr.results.size());
				if (sr.running)
					fmt::print(stderr, "vm: boot {} was in cell {} when it ended\n", boot, *sr.running);
			}
			auto left = remaining_cells(slot.runs, slot.records);
			// A fresh boot only when this one got somewhere: a crash inside a cell
			// (that cell is then accounted for), a crash between cells after some
			// finished, for check any end of the guest inside a check, or a wedge.
			// So every resumed boot has fewer cells left.
			bool crash = b.outcome == BootOutcome::KernelCrash;
			bool ended_in_cell = (crash && (sr.running || !sr.results.empty())) ||
					     (sr.running && check && b.outcome != BootOutcome::Finished && b.outcome != BootOutcome::Interrupted);
			bool again = (ended_in_cell || (check && wedged)) && o_.resume && !left.empty() && !interrupted();
			if (!again)
				break;
			fmt::print(stderr, "vm: a fresh boot goes on with the {} cells left: {}\n", left.size(), format_cell_list(left));
			plan.args = with_cells(base_args, left);  // the first plan's guest names stay, and with them the stream's output name
		}
		slot.merged = slot.check ? merge_check_boots(slot.runs, slot.records, interrupted())
					 : merge_boots(slot.runs, slot.records, interrupted());
		return slot;
	}

private:
	VmOptions o_;
	std::string qemu_;
	Accelerator accel_;
	std::string tmp_, qemu_version_;
	int next_boot_;

	std::string results_path(int boot) const { return fmt::format("{}/results-{}.cpio", tmp_, boot); }
	std::string stream_path(int boot) const { return fmt::format("{}/stream-{}.txt", tmp_, boot); }

	nlohmann::json vm_info(const KernelChoice &k, const std::string &label, int boot) const
	{
		struct stat st = {};
		stat(k.image.c_str(), &st);
		nlohmann::json j = {{"accelerator", accel_.name},
				    {"accelerator_reason", accel_.reason},
				    {"qemu", qemu_version_},
				    {"mem_bytes", o_.mem_bytes},
				    {"smp", o_.smp},
				    {"kernel_image", fs::absolute(k.image).string()},
				    {"kernel_image_bytes", static_cast<uint64_t>(st.st_size)},
				    {"kernel_label", label},
				    {"boot", boot},
				    {"host_kernel", kernel_release()},
				    {"btf_hidden", o_.hide_btf},
				    {"host", host_json()},
				    {"started", utc_timestamp()}};
		if (!k.provenance.is_null())
			j["kernel_build"] = k.provenance;
		if (!k.btf.empty())
			j["btf_file"] = k.btf;
		return j;
	}

	Boot boot_once(const KernelChoice &k, const std::string &label, const GuestPlan &plan, int boot)
	{
		Boot b;
		for (int attempt = 0; attempt < 2; ++attempt) {
			std::string initrd = fmt::format("{}/initramfs-{}-{}.cpio", tmp_, boot, attempt);
			write_file_exclusive(initrd, build_initramfs(o_, plan, vm_info(k, label, boot)));
			unlink(results_path(boot).c_str());
			unlink(stream_path(boot).c_str());
			fmt::print(stderr, "vm: boot {}: {} on {} with {} and {} cpus, accelerator {} ({})\n", boot, k.image, qemu_version_,
				   format_size(o_.mem_bytes), o_.smp, accel_.name, accel_.reason);
			// A KVM that cannot run this guest is silent from the start: give it
			// 30 s, then fall back to TCG once.
			b = boot_qemu(o_, k.image, qemu_, accel_, initrd, results_path(boot), stream_path(boot),
				      accel_.name == "kvm" ? std::min(30, o_.boot_timeout_s) : o_.boot_timeout_s);
			fs::remove(initrd);
			if (accel_.name == "kvm" && o_.accel == "auto" && !b.booted && b.outcome != BootOutcome::Interrupted) {
				accel_ = {"tcg", fmt::format("KVM was tried first and the guest did not boot ({}); fell back to TCG",
							     describe_failure(b, o_))};
				continue;
			}
			break;
		}
		return b;
	}

	int finish_plain(const Boot &b, const std::vector<CpioEntry> &entries, const std::string &archive_error, const GuestPlan &plan)
	{
		auto fail = [&](const std::string &what) {
			fmt::print(stderr, "odfbench: error: vm: {} after {:.0f} s; last console lines:\n", what, b.seconds);
			for (const auto &l : b.tail)
				fmt::print(stderr, "  | {}\n", l);
			return b.outcome == BootOutcome::Interrupted ? 130 : 3;
		};
		if (b.outcome != BootOutcome::Finished)
			return fail(describe_failure(b, o_) + (archive_error.empty() ? "" : " (" + archive_error + ")"));
		if (!archive_error.empty())
			return fail(archive_error);
		GuestResults r = unpack_results(entries, plan, o_.results_dir);
		if (!r.have_rc)
			return fail("the guest's results carry no exit status");
		if (r.store_failed && r.rc == 0)
			r.rc = 1;
		fmt::print(stderr, "vm: guest command exited with status {} after {:.0f} s ({})\n", r.rc, b.seconds, accel_.name);
		return r.rc;
	}
};

// Where the merged results go: the -o the user gave, else results_dir with
// the guest's file name.
std::string merged_path(const GuestPlan &plan, const std::string &output, const std::string &results_dir)
{
	for (const auto &[gname, hpath] : plan.outputs)
		if (gname == output)
			return hpath;
	return (fs::path(results_dir) / output).string();
}

int store_merged(const nlohmann::json &doc, const std::string &path)
{
	try {
		write_file_exclusive(path, doc.dump(1) + "\n");
	} catch (const std::exception &e) {
		fmt::print(stderr, "odfbench: error: vm: cannot store the results: {}\n", e.what());
		return 1;
	}
	size_t crashed = 0, ok = 0;
	for (const auto &r : doc["results"]) {
		crashed += r.value("status", "") == "kernel-crash";
		ok += r.value("status", "") == "ok";
	}
	fmt::print(stderr, "vm: results: {} ({} cells: {} ok, {} crashed the kernel; {} boots)\n", path, doc["results"].size(), ok,
		   crashed, doc["run"]["boots"].size());
	for (const auto &r : doc["results"])
		if (r.value("status", "") == "kernel-crash")
			fmt::print(stderr, "vm:   cell {} {} {} {}: {}\n", r["cell"].get<size_t>(), r["workload"].get<std::string>(),
				   r["params"].value("size", "?"), r["mode"].get<std::string>(), r["reason"].get<std::string>());
	std::string st = doc["run"]["status"];
	return st == "complete" ? 0 : st == "interrupted" ? 130 : 1;
}

// A split command's output (check), made on the host from every boot, in
// the form the command renders.
int finish_split(const CarriedCommand &cmd, const nlohmann::json &doc, const std::vector<std::string> &args, const GuestPlan &plan)
{
	std::string text = cmd.render(doc, args);
	fwrite(text.data(), 1, text.size(), stdout);
	fflush(stdout);
	int rc = 0;
	for (const auto &[gname, hpath] : plan.outputs)
		try {
			write_file_exclusive(hpath, doc.dump(1) + "\n");
			fmt::print(stderr, "check: {}\n", hpath);
		} catch (const std::exception &e) {
			fmt::print(stderr, "odfbench: error: vm: cannot store the check results: {}\n", e.what());
			rc = 1;
		}
	size_t crashed = 0;
	for (const auto &c : doc["checks"])
		for (const auto &[m, r] : c["results"].items())
			crashed += r.value("status", "") == "kernel-crash";
	fmt::print(stderr, "vm: check: {} checks over {} boots; {} verdicts are kernel crashes\n", doc["checks"].size(),
		   doc["boots"].size(), crashed);
	if (interrupted())
		return 130;
	return rc ? rc : cmd.failed(doc) ? 1 : 0;
}

}  // namespace

int run_vm(VmOptions o)
{
	std::vector<KernelChoice> kernels;
	std::vector<std::string> labels;
	for (const auto &arg : o.kernels) {
		kernels.push_back(resolve_kernel(arg));
		labels.push_back(label_of(arg, kernels.back()));
	}
	std::string qemu = check_options(o, kernels);
	std::vector<GuestPlan> plans;
	for (const auto &k : kernels)
		plans.push_back(plan_guest(guest_args(o.args, k)));
	if (kernels.size() > 1 && std::set<std::string>(labels.begin(), labels.end()).size() != labels.size())
		throw std::invalid_argument("--kernel: two kernels with the same name; an A/B needs two different ones");

	install_signal_handlers();
	const CarriedCommand &cmd = carried_command(o.args[0]);
	if (cmd.units && cmd.render && kernels.size() == 1) {
		// The units dealt round robin among --jobs guests; each guest goes on
		// in a fresh boot after a crash or a wedge.
		std::vector<size_t> sel = cmd.units(plans[0].args);
		if (sel.empty())
			throw std::invalid_argument(o.args[0] + ": nothing selected");
		size_t jobs = std::min<size_t>(o.jobs, sel.size());
		std::vector<std::vector<size_t>> deal(jobs);
		for (size_t i = 0; i < sel.size(); ++i)
			deal[i % jobs].push_back(sel[i]);
		std::vector<Slot> slots(jobs);
		std::vector<std::thread> threads;
		for (size_t j = 0; j < jobs; ++j)
			threads.emplace_back([&, j] {
				VmSession s(o, qemu, static_cast<int>(j * 1000));
				auto args = jobs > 1 ? with_cells(plans[0].args, deal[j]) : plans[0].args;
				slots[j] = s.run_slot(labels[0], kernels[0], args, plans[0]);
			});
		for (auto &t : threads)
			t.join();
		std::vector<StreamedRun> runs;
		std::vector<BootRecord> recs;
		for (auto &s : slots) {
			if (!s.check)  // the guest's check sent nothing: what the one boot said stands
				return jobs == 1 ? s.rc : 3;
			runs.insert(runs.end(), s.runs.begin(), s.runs.end());
			recs.insert(recs.end(), s.records.begin(), s.records.end());
		}
		return finish_split(cmd, merge_check_boots(runs, recs, interrupted()), o.args, plans[0]);
	}
	VmSession session(o, qemu);
	if (kernels.size() == 1 && o.boots == 1) {
		Slot s = session.run_slot(labels[0], kernels[0], plans[0].args, plans[0]);
		if (s.merged.is_null())
			return s.rc;
		// From the merged document: a kernel crash is a finding (0); the last
		// boot's own exit status may be that of a crashed guest.
		return store_merged(s.merged, merged_path(plans[0], s.runs.front().output, o.results_dir));
	}
	// A/B: A, B, A, B, ...; one results document with each trial's boot.
	std::vector<std::pair<std::string, nlohmann::json>> slots;
	std::string output;
	for (int round = 0; round < o.boots && !interrupted(); ++round)
		for (size_t i = 0; i < kernels.size() && !interrupted(); ++i) {
			fmt::print(stderr, "vm: A/B round {}/{}: {}\n", round + 1, o.boots, labels[i]);
			Slot s = session.run_slot(labels[i], kernels[i], plans[i].args, plans[i]);
			if (output.empty() && !s.runs.empty())
				output = s.runs.front().output;
			slots.emplace_back(labels[i], s.merged);
		}
	nlohmann::json doc = merge_ab(slots);
	if (doc.is_null()) {
		fmt::print(stderr, "odfbench: error: vm: no boot of the A/B sent results\n");
		return 3;
	}
	return store_merged(doc, merged_path(plans[0], output, o.results_dir));
}

}  // namespace odfb
