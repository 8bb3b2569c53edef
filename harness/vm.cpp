#include "vm.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cpio.h"
#include "supervise.h"
#include "sizes.h"
#include "sysinfo.h"

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
std::string check_options(const VmOptions &o)
{
	if (o.kernel.empty())
		throw std::invalid_argument("--kernel is required");
	if (access(o.kernel.c_str(), R_OK) != 0)
		throw std::invalid_argument(fmt::format("--kernel {}: {}", o.kernel, strerror(errno)));
	if (!is_bzimage(o.kernel))
		throw std::invalid_argument(fmt::format("--kernel {}: not a Linux x86 boot image (no \"HdrS\" header; give the bzImage/vmlinuz, not vmlinux)", o.kernel));
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
GuestResults unpack_results(const std::vector<CpioEntry> &entries, const GuestPlan &plan, const std::string &results_dir)
{
	GuestResults r;
	for (const auto &e : entries) {
		if (!S_ISREG(e.mode))
			continue;
		if (e.name == "stdout") {
			fwrite(e.data.data(), 1, e.data.size(), stdout);
			fflush(stdout);
		} else if (e.name == "rc") {
			r.rc = std::atoi(e.data.c_str());
			r.have_rc = true;
		} else if (e.name.rfind("results/", 0) == 0) {
			std::string name = e.name.substr(8);
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

int run_vm(VmOptions o)
{
	std::string qemu = check_options(o);
	GuestPlan plan = plan_guest(o.args);
	Accelerator accel = choose_accelerator(o.accel);

	char tmpl[] = "/tmp/odfbench-vm-XXXXXX";
	if (!mkdtemp(tmpl))
		throw std::runtime_error(fmt::format("mkdtemp: {}", strerror(errno)));
	std::string tmp = tmpl;
	struct TmpDir {
		std::string path;
		~TmpDir() { std::error_code ec; fs::remove_all(path, ec); }
	} cleanup{tmp};

	std::string qemu_version = first_line_of(shell_quote(qemu) + " --version");
	auto vm_info = [&](const Accelerator &a) {
		struct stat st = {};
		stat(o.kernel.c_str(), &st);
		return nlohmann::json{{"accelerator", a.name},
				      {"accelerator_reason", a.reason},
				      {"qemu", qemu_version},
				      {"mem_bytes", o.mem_bytes},
				      {"smp", o.smp},
				      {"kernel_image", fs::absolute(o.kernel).string()},
				      {"kernel_image_bytes", static_cast<uint64_t>(st.st_size)},
				      {"host_kernel", kernel_release()},
				      {"btf_hidden", o.hide_btf},
				      {"host", host_json()},
				      {"started", utc_timestamp()}};
	};

	install_signal_handlers();
	Boot b;
	std::string results_path = tmp + "/results.cpio";
	for (int attempt = 0; attempt < 2; ++attempt) {
		std::string initrd = tmp + "/initramfs.cpio";
		write_file_exclusive(initrd + fmt::format(".{}", attempt), build_initramfs(o, plan, vm_info(accel)));
		initrd += fmt::format(".{}", attempt);
		unlink(results_path.c_str());
		fmt::print(stderr, "vm: {} on {} with {} and {} cpus, accelerator {} ({})\n", o.kernel, qemu_version,
			   format_size(o.mem_bytes), o.smp, accel.name, accel.reason);
		// A KVM that cannot run this guest is silent from the start: give it
		// 30 s, then fall back to TCG once.
		b = boot_qemu(o, qemu, accel, initrd, results_path, accel.name == "kvm" ? std::min(30, o.boot_timeout_s) : o.boot_timeout_s);
		if (accel.name == "kvm" && o.accel == "auto" && !b.booted && b.outcome != BootOutcome::Interrupted) {
			accel = {"tcg", fmt::format("KVM was tried first and the guest did not boot ({}); fell back to TCG",
						    describe_failure(b, o))};
			continue;
		}
		break;
	}

	std::string archive_error;
	std::vector<CpioEntry> entries = read_results(results_path, archive_error);
	auto fail = [&](const std::string &what) {
		fmt::print(stderr, "odfbench: error: vm: {} after {:.0f} s; last console lines:\n", what, b.seconds);
		for (const auto &l : b.tail)
			fmt::print(stderr, "  | {}\n", l);
		return b.outcome == BootOutcome::Interrupted ? 130 : 3;
	};
	if (b.outcome != BootOutcome::Finished)
		return fail(describe_failure(b, o) + (archive_error.empty() ? "" : " (" + archive_error + ")"));
	if (!archive_error.empty())
		return fail(archive_error);

	GuestResults r = unpack_results(entries, plan, o.results_dir);
	if (!r.have_rc)
		return fail("the guest's results carry no exit status");
	if (r.store_failed && r.rc == 0)
		r.rc = 1;
	fmt::print(stderr, "vm: guest command exited with status {} after {:.0f} s ({})\n", r.rc, b.seconds, accel.name);
	return r.rc;
}

}  // namespace odfb
