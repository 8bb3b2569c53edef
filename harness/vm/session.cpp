#include "vm/session.h"
#include "vm/qemu.h"
#include "vm/initramfs.h"

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
#include "base/kmsg.h"
#include "base/supervise.h"
#include "base/sizes.h"
#include "base/sysinfo.h"
#include "kernel/cache.h"
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


struct VmSession::Impl {
	Impl(VmOptions o, std::string qemu, int first_boot)
		: o_(std::move(o)), qemu_(std::move(qemu)), accel_(choose_accelerator(o_.accel)), next_boot_(first_boot)
	{
		char tmpl[] = "/tmp/odfbench-vm-XXXXXX";
		if (!mkdtemp(tmpl))
			throw std::runtime_error(fmt::format("mkdtemp: {}", strerror(errno)));
		tmp_ = tmpl;
		qemu_version_ = first_line_of(shell_quote(qemu_) + " --version");
	}
	~Impl()
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
				       b.crash, b.seconds, vm_info(k, label, boot), b.early_crashes};
			std::string archive_error;
			auto entries = read_results(results_path(boot), archive_error);
			if (sr.header.is_null()) {  // a command that does not stream (doctor): one boot
				slot.rc = finish_plain(b, entries, archive_error, plan);
				return slot;
			}
			bool check = sr.header.value("kind", "") == "odfbench-check";
			slot.check = check;
			// A check that found the kernel wedged or damaged skips the rest; a fresh boot runs them.
			size_t needs_fresh = 0;
			if (check)
				for (auto it = sr.results.begin(); it != sr.results.end();) {
					bool skipped = false;
					for (auto &[m, v] : it->second["results"].items())
						skipped |= v.value("status", "") == "skipped" && v.value("detail", "").rfind(kNeedsFreshKernel, 0) == 0;
					if (skipped) {
						it = sr.results.erase(it);
						++needs_fresh;
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
			bool again = (ended_in_cell || (check && needs_fresh)) && o_.resume && !left.empty() && !interrupted();
			if (!again)
				break;
			fmt::print(stderr, "vm: a fresh boot goes on with the {} cells left: {}\n", left.size(), format_cell_list(left));
			plan.args = with_cells(base_args, left);  // the first plan's guest names stay, and with them the stream's output name
		}
		slot.merged = slot.check ? merge_check_boots(slot.runs, slot.records, interrupted())
					 : merge_boots(slot.runs, slot.records, interrupted());
		return slot;
	}

	VmOptions o_;
	std::string qemu_;
	Accelerator accel_;
	std::string tmp_, qemu_version_;
	int next_boot_;
	std::set<std::string> announced_;  // kernel images (with accelerator) whose boot line was printed

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

	// A kernel that crashes before the guest's init speaks has run nothing of
	// the command: that boot is tried again, up to kEarlyCrashBoots in all.
	// QEMU 7.2's TCG crashes Debian's 6.12 kernel that way in about one boot
	// of three on our machines (double faults in SLUB, garbage EFLAGS) and
	// Debian's 6.1 and our own 6.0.6 builds in none of 30; a kernel that
	// always crashes at boot still fails, each crash named in the record.
	static constexpr int kEarlyCrashBoots = 3;

	Boot boot_once(const KernelChoice &k, const std::string &label, const GuestPlan &plan, int boot)
	{
		std::vector<std::string> early;  // one line for each boot of this number that crashed before init
		for (;;) {
			Boot b = boot_attempt(k, label, plan, boot);
			b.early_crashes = early;
			if (b.outcome != BootOutcome::KernelCrash || b.booted || interrupted())
				return b;
			if (early.size() + 1 >= static_cast<size_t>(kEarlyCrashBoots)) {
				fmt::print(stderr, "vm: boot {}: the kernel crashed before the guest came up in {} boots in a row; giving up\n", boot,
					   early.size() + 1);
				return b;
			}
			early.push_back(b.crash.empty() ? "(no crash line kept)" : b.crash.front());
			fmt::print(stderr, "vm: boot {}: the kernel crashed before the guest came up ({}); nothing of the command ran, booting again ({} of {})\n",
				   boot, early.back(), early.size() + 1, kEarlyCrashBoots);
		}
	}

	Boot boot_attempt(const KernelChoice &k, const std::string &label, const GuestPlan &plan, int boot)
	{
		Boot b;
		for (int attempt = 0; attempt < 2; ++attempt) {
			std::string initrd = fmt::format("{}/initramfs-{}-{}.cpio", tmp_, boot, attempt);
			write_file_exclusive(initrd, build_initramfs(o_, plan, vm_info(k, label, boot)));
			unlink(results_path(boot).c_str());
			unlink(stream_path(boot).c_str());
			// The whole setting once per kernel; a fresh boot of the same says only its number.
			if (announced_.insert(k.image + accel_.name).second)
				fmt::print(stderr, "vm: boot {}: {} on {} with {} and {} cpus, accelerator {} ({})\n", boot, k.image, qemu_version_,
					   format_size(o_.mem_bytes), o_.smp, accel_.name, accel_.reason);
			else
				fmt::print(stderr, "vm: boot {}: {}, as before\n", boot, label);
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

VmSession::VmSession(VmOptions o, std::string qemu, int first_boot)
	: impl_(std::make_unique<Impl>(std::move(o), std::move(qemu), first_boot))
{
}

VmSession::~VmSession() = default;

Slot VmSession::run_slot(const std::string &label, const KernelChoice &k, const std::vector<std::string> &base_args,
			 const GuestPlan &plan0)
{
	return impl_->run_slot(label, k, base_args, plan0);
}

}  // namespace odfb
