#include "vm/vm.h"
#include "vm/carried.h"
#include "vm/session.h"

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
#include "vm/guest.h"
#include "vm/initramfs.h"
#include "base/supervise.h"
#include "base/sizes.h"
#include "base/sysinfo.h"
#include "kernel/cache.h"
#include "base/cell_list.h"
#include "vm/stream.h"

namespace fs = std::filesystem;

namespace odfb {

namespace {

// A Linux x86 boot image carries "HdrS" at 0x202 (Documentation/x86/boot.rst).
bool is_bzimage(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	char magic[4] = {};
	in.seekg(0x202);
	return in.read(magic, 4) && std::memcmp(magic, "HdrS", 4) == 0;
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


// as --btf unless the user gave one.
std::vector<std::string> guest_args(const std::vector<std::string> &args, const KernelChoice &k)
{
	std::vector<std::string> a = args;
	bool probes = !a.empty() && carried_command(a[0]).loads_probes;
	if (probes && !k.btf.empty() && std::find(a.begin(), a.end(), "--btf") == a.end())
		a.insert(a.begin() + 1, {"--btf", k.btf});
	return a;
}

std::string label_of(const std::string &arg, const KernelChoice &k)
{
	return k.provenance.is_object() ? k.provenance.value("variant", arg) : fs::path(arg).filename().string();
}

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
	// What the guest needs from the host besides odfbench (the spec's programs
	// and data, --with), checked against the guest's memory before any boot:
	// the initramfs and the files it unpacks both live in guest RAM.
	{
		std::vector<std::pair<std::string, std::string>> files;
		if (const auto &c = carried_command(o.args[0]); c.carry)
			for (auto &f : c.carry(o.args))
				files.emplace_back(f.host, f.guest);
		for (auto &p : plans)
			plan_carried(p, files, o.with);
		uint64_t need = plans.empty() ? 0 : carried_bytes(plans[0]), room = o.mem_bytes / 2 - (128ull << 20);
		if (need > room)
			throw std::invalid_argument(fmt::format(
				"carried files need {} (packed, then unpacked: twice that in guest memory), more than --mem {} holds "
				"beside the workload; raise --mem or carry less",
				format_size(need), format_size(o.mem_bytes)));
	}
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
