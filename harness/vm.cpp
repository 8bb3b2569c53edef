#include "vm.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gelf.h>
#include <libelf.h>
#include <linux/kvm.h>
#include <poll.h>
#include <set>
#include <stdexcept>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cpio.h"
#include "runner.h"
#include "sizes.h"
#include "sysinfo.h"

namespace fs = std::filesystem;

namespace odfb {

namespace {

std::string read_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::invalid_argument(fmt::format("cannot read {}: {}", path, strerror(errno)));
	return {std::istreambuf_iterator<char>(in), {}};
}

std::string shell_quote(const std::string &s)
{
	std::string q = "'";
	for (char c : s)
		q += c == '\'' ? std::string("'\\''") : std::string(1, c);
	return q + "'";
}

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

// Output flags whose file must come back to the host under the name given.
bool is_output_flag(const std::string &a) { return a == "-o" || a == "--output"; }

struct GuestPlan {
	std::vector<std::string> args;                             // as the guest sees them
	std::vector<std::pair<std::string, std::string>> inputs;   // guest path, host path
	std::vector<std::pair<std::string, std::string>> outputs;  // guest results/ name, host path
};

// Host paths in the arguments become guest paths: input files are packed
// into the initramfs, and -o targets are written in the guest's results/
// and copied back to the host path afterwards.
GuestPlan plan_guest(const std::vector<std::string> &args)
{
	GuestPlan plan;
	for (size_t i = 0; i < args.size(); ++i) {
		const std::string &a = args[i];
		std::string out_path;
		if (is_output_flag(a) && i + 1 < args.size()) {
			out_path = args[i + 1];
			plan.args.push_back(a);
			++i;
		} else if (a.rfind("--output=", 0) == 0) {
			out_path = a.substr(9);
			plan.args.push_back("--output");
		}
		if (!out_path.empty()) {
			if (fs::exists(out_path))
				throw std::invalid_argument(fmt::format("{}: already exists (odfbench never overwrites results)", out_path));
			std::string parent = fs::path(out_path).parent_path().string();
			if (access(parent.empty() ? "." : parent.c_str(), W_OK) != 0)
				throw std::invalid_argument(fmt::format("{}: directory is not writable", out_path));
			std::string name = fmt::format("out{}-{}", plan.outputs.size(), fs::path(out_path).filename().string());
			plan.outputs.emplace_back(name, out_path);
			plan.args.push_back("results/" + name);
			continue;
		}
		struct stat st;
		if ((a.find('/') != std::string::npos || a.ends_with(".json")) && stat(a.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
			std::string guest = fmt::format("/work/in/{}-{}", plan.inputs.size(), fs::path(a).filename().string());
			plan.inputs.emplace_back(guest, a);
			plan.args.push_back(guest);
			continue;
		}
		plan.args.push_back(a);
	}
	return plan;
}

// Directories of an archive path, each emitted once (parents first, as the
// kernel's unpacker needs them).
class ArchiveDirs {
public:
	explicit ArchiveDirs(CpioWriter &w) : w_(w) {}
	void ensure(const std::string &path)
	{
		auto parent = fs::path(path).parent_path();
		if (parent.empty() || done_.count(parent.string()))
			return;
		ensure(parent.string());
		w_.dir(parent.string());
		done_.insert(parent.string());
	}

private:
	CpioWriter &w_;
	std::set<std::string> done_;
};

// A dynamically linked program (redis-server, say) and the libraries ldd
// resolves for it, at their host paths.
void add_program_with_libs(CpioWriter &w, ArchiveDirs &dirs, const std::string &prog)
{
	std::vector<std::string> files = {prog};
	if (FILE *f = popen(("ldd " + shell_quote(prog) + " 2>/dev/null").c_str(), "r")) {
		char line[1024];
		while (fgets(line, sizeof(line), f)) {
			std::string l = line;
			auto arrow = l.find("=> ");
			size_t start = arrow != std::string::npos ? arrow + 3 : l.find('/');
			if (start == std::string::npos || start >= l.size() || l[start] != '/')
				continue;
			files.push_back(l.substr(start, l.find(' ', start) - start));
		}
		pclose(f);
	}
	for (const auto &file : files) {
		std::string rel = file.substr(1);
		dirs.ensure(rel);
		w.file(rel, read_file(file), 0755);
	}
}

std::string build_initramfs(const VmOptions &o, const GuestPlan &plan, const nlohmann::json &vm_info)
{
	CpioWriter w;
	ArchiveDirs dirs(w);
	for (const char *d : {"bin", "dev", "proc", "sys", "tmp", "work", "work/in", "work/out", "work/out/results", "run"})
		dirs.ensure(std::string(d) + "/x");
	// The kernel opens /dev/console for init before anything is mounted.
	w.chardev("dev/console", 5, 1);
	w.chardev("dev/null", 1, 3, 0666);
	w.file("bin/busybox", read_file(o.busybox), 0755);
	for (const char *applet : {"sh", "mount", "mkdir", "cat", "sleep", "stty", "find", "cpio", "poweroff", "sync", "uname",
				   "dmesg", "ls", "rm", "cp", "head", "tail", "grep", "ps", "free", "kill", "timeout", "true",
				   "false", "echo", "env", "printf", "test", "sed", "awk", "wc", "tr", "cut", "sort", "seq", "id", "date"})
		w.symlink(fmt::format("bin/{}", applet), "busybox");
	w.file("bin/odfbench", read_file("/proc/self/exe"), 0755);
	// Helper programs the workloads look for beside odfbench (the static fuzz targets).
	auto self_dir = fs::read_symlink("/proc/self/exe").parent_path();
	for (const char *helper : {"odfbench-fuzz-target", "odfbench-fuzz-target-afl"})
		if (access((self_dir / helper).c_str(), R_OK) == 0)
			w.file(fmt::format("bin/{}", helper), read_file(self_dir / helper), 0755);
	// Programs the workloads run, with their libraries: redis-server for redis-snapshot.
	for (const char *prog : {"/usr/bin/redis-server"})
		if (access(prog, X_OK) == 0)
			add_program_with_libs(w, dirs, prog);
	for (const auto &[guest, host] : plan.inputs)
		w.file(guest.substr(1), read_file(host));
	w.file("vm.json", vm_info.dump(2) + "\n");
	w.file("init", guest_init_script(plan.args, std::max(5, o.timeout_s - 30)), 0755);
	return w.finish();
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

// Drops terminal escapes (CSI sequences) and control characters.
std::string printable(const std::string &raw)
{
	std::string l;
	for (size_t i = 0; i < raw.size(); ++i) {
		unsigned char ch = raw[i];
		if (ch == 0x1b) {
			if (i + 1 < raw.size() && raw[i + 1] == '[') {
				i += 2;
				while (i < raw.size() && !(raw[i] >= 0x40 && raw[i] <= 0x7e))
					++i;
			}
			continue;
		}
		if (ch == '\t' || (ch >= 0x20 && ch != 0x7f))
			l += static_cast<char>(ch);
	}
	return l;
}

enum class Outcome { Finished, Panic, Timeout, BootTimeout, Silent, Interrupted, QemuFailed };

struct Boot {
	Outcome outcome = Outcome::QemuFailed;
	bool booted = false;
	int qemu_status = 0;
	std::deque<std::string> tail;  // last console lines
	double seconds = 0;
};

class Console {
public:
	explicit Console(bool tty) : tty_(tty) {}
	void line(const std::string &l, double t)
	{
		clear();
		fmt::print(stderr, "[{:6.1f}s] guest| {}\n", t, l);
	}
	void status(const std::string &s) { status_ = s; }
	void draw(const std::string &accel, double t)
	{
		if (!tty_)
			return;
		std::string s = fmt::format("vm[{}] {:.0f}s {}", accel, t, status_);
		if (s.size() > 110)
			s.resize(110);
		fmt::print(stderr, "\r\033[K{}", s);
		drawn_ = true;
	}
	void clear()
	{
		if (drawn_)
			fmt::print(stderr, "\r\033[K");
		drawn_ = false;
	}

private:
	bool tty_;
	bool drawn_ = false;
	std::string status_;
};

void kill_group(pid_t pid)
{
	kill(-pid, SIGTERM);
	for (int i = 0; i < 20; ++i) {
		if (waitpid(pid, nullptr, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, nullptr, 0);
}

Boot boot(const VmOptions &o, const std::string &qemu, const Accelerator &accel, const std::string &initrd,
	  const std::string &results_path, int boot_timeout_s)
{
	std::vector<std::string> argv = {qemu,
					 "-accel", accel.name,
					 "-m", fmt::format("{}M", o.mem_bytes >> 20),
					 "-smp", std::to_string(o.smp),
					 "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-no-reboot",
					 "-serial", "stdio",
					 "-serial", "file:" + results_path,
					 "-kernel", o.kernel,
					 "-initrd", initrd,
					 "-append", "console=ttyS0 panic=-1 loglevel=4 rdinit=/init " + std::string(o.hide_btf ? "odfbench.hide_btf=1 " : "") + o.append};
	if (accel.name == "kvm")
		argv.insert(argv.begin() + 3, {"-cpu", "host"});
	else
		argv.insert(argv.begin() + 3, {"-cpu", "max"});
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		throw std::runtime_error(fmt::format("pipe: {}", strerror(errno)));
	pid_t pid = fork();
	if (pid < 0)
		throw std::runtime_error(fmt::format("fork: {}", strerror(errno)));
	if (pid == 0) {
		setpgid(0, 0);  // its own group: the terminal's Ctrl-C reaches odfbench, which stops it
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		std::vector<char *> cargv;
		for (auto &a : argv)
			cargv.push_back(a.data());
		cargv.push_back(nullptr);
		execv(cargv[0], cargv.data());
		_exit(127);
	}
	setpgid(pid, pid);
	close(pfd[1]);
	set_signal_victim(pid);

	Boot b;
	Console con(isatty(2));
	uint64_t t0 = now_ns(), last_out = t0;
	uint64_t panic_at = 0;
	std::string partial;
	bool eof = false, cr_pending = false;
	auto elapsed = [&] { return (now_ns() - t0) / 1e9; };
	auto remember = [&](const std::string &l) {
		b.tail.push_back(l);
		if (b.tail.size() > 40)
			b.tail.pop_front();
	};
	while (!eof) {
		pollfd p = {pfd[0], POLLIN, 0};
		int r = poll(&p, 1, 1000);
		if (r > 0) {
			char buf[4096];
			ssize_t n = read(pfd[0], buf, sizeof(buf));
			if (n <= 0) {
				eof = true;
			} else {
				last_out = now_ns();
				for (ssize_t i = 0; i < n; ++i) {
					char c = buf[i];
					// "text\r" not followed by "\n" is the guest redrawing its progress line.
					if (cr_pending && c != '\n') {
						if (auto l = printable(partial); !l.empty())
							con.status(l);
						partial.clear();
					}
					cr_pending = c == '\r';
					if (c == '\r')
						continue;
					if (c != '\n') {
						partial += c;
						continue;
					}
					std::string l = printable(partial);
					partial.clear();
					if (l.empty())
						continue;
					remember(l);
					con.line(l, elapsed());
					if (l.find("odfbench-vm: guest up") != std::string::npos)
						b.booted = true;
					if (l.find("Kernel panic - not syncing") != std::string::npos && !panic_at)
						panic_at = now_ns();
				}
			}
		}
		double t = elapsed();
		con.draw(accel.name, t);
		Outcome stop = Outcome::Finished;
		if (interrupted())
			stop = Outcome::Interrupted;
		else if (panic_at && now_ns() - panic_at > 3'000'000'000ull)  // let the trace print first
			stop = Outcome::Panic;
		else if (t > o.timeout_s)
			stop = Outcome::Timeout;
		else if (!b.booted && t > boot_timeout_s)
			stop = Outcome::BootTimeout;
		else if (b.booted && (now_ns() - last_out) / 1e9 > o.silence_s)
			stop = Outcome::Silent;
		if (stop != Outcome::Finished) {
			con.clear();
			kill_group(pid);
			set_signal_victim(0);
			close(pfd[0]);
			b.outcome = stop;
			b.seconds = t;
			return b;
		}
	}
	con.clear();
	close(pfd[0]);
	waitpid(pid, &b.qemu_status, 0);
	set_signal_victim(0);
	b.seconds = elapsed();
	b.outcome = panic_at ? Outcome::Panic
		    : WIFEXITED(b.qemu_status) && WEXITSTATUS(b.qemu_status) == 0 ? Outcome::Finished
										     : Outcome::QemuFailed;
	return b;
}

std::string describe_failure(const Boot &b, const VmOptions &o)
{
	switch (b.outcome) {
	case Outcome::Panic:
		return "the guest kernel panicked";
	case Outcome::Timeout:
		return fmt::format("hard timeout: the VM ran for {} s (--timeout); QEMU was killed", o.timeout_s);
	case Outcome::BootTimeout:
		return fmt::format("the guest's init did not start within {} s (--boot-timeout); QEMU was killed", o.boot_timeout_s);
	case Outcome::Silent:
		return fmt::format("the guest went silent for {} s (no console output, no heartbeat); QEMU was killed", o.silence_s);
	case Outcome::Interrupted:
		return "interrupted; QEMU was killed";
	case Outcome::QemuFailed:
		return WIFEXITED(b.qemu_status) ? fmt::format("QEMU exited with status {}", WEXITSTATUS(b.qemu_status))
						: fmt::format("QEMU was killed by signal {}", WTERMSIG(b.qemu_status));
	case Outcome::Finished:
		break;
	}
	return "finished";
}

}  // namespace

Accelerator choose_accelerator(const std::string &requested, const std::string &cpuinfo)
{
	if (requested == "tcg")
		return {"tcg", "requested with --accel tcg"};
	if (requested != "auto" && requested != "kvm")
		throw std::invalid_argument(fmt::format("--accel: \"{}\" is not one of auto, kvm, tcg", requested));
	std::string why;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		why = fmt::format("/dev/kvm: {}", strerror(errno));
	} else {
		int api = ioctl(fd, KVM_GET_API_VERSION, 0);
		close(fd);
		std::string info;
		try {
			info = read_file(cpuinfo);
		} catch (const std::exception &) {
		}
		bool hw = info.find(" vmx") != std::string::npos || info.find(" svm") != std::string::npos;
		if (api != KVM_API_VERSION)
			why = fmt::format("/dev/kvm answers API version {}, not {}", api, KVM_API_VERSION);
		else if (!hw)
			why = "/dev/kvm exists but the CPU has no vmx/svm flag: a paravirtual KVM that stock guest kernels cannot use";
		else
			return {"kvm", "/dev/kvm works and the CPU has hardware virtualization"};
	}
	if (requested == "kvm")
		throw std::invalid_argument(fmt::format("--accel kvm: {}", why));
	return {"tcg", why + "; using TCG (software emulation: absolute times are slower than on hardware)"};
}

bool elf_is_static(const std::string &path, std::string &why)
{
	elf_version(EV_CURRENT);
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		why = fmt::format("{}: {}", path, strerror(errno));
		return false;
	}
	Elf *e = elf_begin(fd, ELF_C_READ, nullptr);
	bool ok = false;
	size_t n = 0;
	if (!e || elf_kind(e) != ELF_K_ELF || elf_getphdrnum(e, &n) != 0) {
		why = fmt::format("{}: not an ELF executable", path);
	} else {
		ok = true;
		for (size_t i = 0; i < n; ++i) {
			GElf_Phdr ph;
			if (gelf_getphdr(e, i, &ph) && ph.p_type == PT_INTERP) {
				why = fmt::format("{}: dynamically linked (it needs a loader and libraries the guest lacks)", path);
				ok = false;
			}
		}
	}
	if (e)
		elf_end(e);
	close(fd);
	return ok;
}

std::string guest_init_script(const std::vector<std::string> &args, int deadline_s)
{
	std::string cmd = "/bin/odfbench";
	for (const auto &a : args)
		cmd += " " + shell_quote(a);
	return fmt::format(R"SH(#!/bin/sh
# Generated by odfbench vm.  The console is ttyS0; results go back on ttyS1.
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t tmpfs tmpfs /tmp
# --hide-btf: look like a kernel built without CONFIG_DEBUG_INFO_BTF.
grep -q odfbench.hide_btf /proc/cmdline && mount -t tmpfs hidden /sys/kernel/btf
ulimit -l unlimited
echo "odfbench-vm: guest up: kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus"
(while sleep 10; do echo "odfbench-vm: heartbeat"; done) &
heartbeat=$!
cd /work/out
# A deadline inside the guest, before the host's hard one: the command gets
# SIGTERM, writes what it has (status "interrupted"), and the results still
# come home.
ODFBENCH_VM_INFO=/vm.json timeout -s TERM {} {} > /work/out/stdout
echo $? > /work/out/rc
kill $heartbeat
dmesg > /work/out/dmesg
echo "odfbench-vm: command exited with status $(cat /work/out/rc)"
stty -F /dev/ttyS1 raw -echo
find . | cpio -o -H newc > /dev/ttyS1
echo "odfbench-vm: results sent"
sync
poweroff -f
)SH",
			   deadline_s, cmd);
}

nlohmann::json vm_environment()
{
	const char *p = getenv("ODFBENCH_VM_INFO");
	if (!p)
		return nullptr;
	try {
		return nlohmann::json::parse(read_file(p));
	} catch (const std::exception &) {
		return {{"error", fmt::format("{} unreadable", p)}};
	}
}

int run_vm(VmOptions o)
{
	// Everything is checked before QEMU starts.
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
	if (uint64_t avail = mem_available_bytes(); o.mem_bytes > avail * 8 / 10)
		throw std::invalid_argument(fmt::format("--mem: {} is more than 80% of MemAvailable ({})", format_size(o.mem_bytes),
							format_size(avail)));
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
		b = boot(o, qemu, accel, initrd, results_path, accel.name == "kvm" ? std::min(30, o.boot_timeout_s) : o.boot_timeout_s);
		if (accel.name == "kvm" && o.accel == "auto" && !b.booted && b.outcome != Outcome::Interrupted) {
			accel = {"tcg", fmt::format("KVM was tried first and the guest did not boot ({}); fell back to TCG",
						    describe_failure(b, o))};
			continue;
		}
		break;
	}

	std::string archive;
	try {
		archive = read_file(results_path);
	} catch (const std::exception &) {
	}
	std::vector<CpioEntry> entries;
	std::string archive_error;
	if (archive.empty())
		archive_error = "the guest sent no results";
	else
		try {
			entries = read_cpio(archive);
		} catch (const std::exception &e) {
			archive_error = e.what();
		}
	auto fail = [&](const std::string &what) {
		fmt::print(stderr, "odfbench: error: vm: {} after {:.0f} s; last console lines:\n", what, b.seconds);
		for (const auto &l : b.tail)
			fmt::print(stderr, "  | {}\n", l);
		return b.outcome == Outcome::Interrupted ? 130 : 3;
	};
	if (b.outcome != Outcome::Finished)
		return fail(describe_failure(b, o) + (archive_error.empty() ? "" : " (" + archive_error + ")"));
	if (!archive_error.empty())
		return fail(archive_error);

	int rc = 3;
	bool have_rc = false, store_failed = false;
	for (const auto &e : entries) {
		if (!S_ISREG(e.mode))
			continue;
		if (e.name == "stdout") {
			fwrite(e.data.data(), 1, e.data.size(), stdout);
			fflush(stdout);
		} else if (e.name == "rc") {
			rc = std::atoi(e.data.c_str());
			have_rc = true;
		} else if (e.name.rfind("results/", 0) == 0) {
			std::string name = e.name.substr(8);
			std::string host = fs::path(o.results_dir) / name;
			for (const auto &[gname, hpath] : plan.outputs)
				if (gname == name)
					host = hpath;
			try {
				write_file_exclusive(host, e.data);
				fmt::print(stderr, "vm: results from the guest: {}\n", host);
			} catch (const std::exception &ex) {
				fmt::print(stderr, "odfbench: error: vm: cannot store the guest's {}: {}\n", e.name, ex.what());
				store_failed = true;
			}
		}
	}
	if (!have_rc)
		return fail("the guest's results carry no exit status");
	if (store_failed && rc == 0)
		rc = 1;
	fmt::print(stderr, "vm: guest command exited with status {} after {:.0f} s ({})\n", rc, b.seconds, accel.name);
	return rc;
}

}  // namespace odfb
