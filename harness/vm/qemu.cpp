#include "vm/qemu.h"

#include "base/kmsg.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <regex>
#include <linux/kvm.h>
#include <stdexcept>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/supervise.h"
#include "base/sysinfo.h"
#include "vm/options.h"
#include "vm/initramfs.h"

namespace odfb {

namespace {

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

// Guest lines scroll by; on a terminal, one status line below them shows the
// guest's progress line, redrawn in place.
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
			info = read_host_file(cpuinfo);
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

const char *outcome_name(BootOutcome o)
{
	switch (o) {
	case BootOutcome::Finished: return "finished";
	case BootOutcome::KernelCrash: return "kernel-crash";
	case BootOutcome::Timeout: return "timeout";
	case BootOutcome::BootTimeout: return "boot-timeout";
	case BootOutcome::Silent: return "silent";
	case BootOutcome::Interrupted: return "interrupted";
	case BootOutcome::QemuFailed: return "qemu-failed";
	}
	return "?";
}

bool is_kernel_crash_line(const std::string &line)
{
	// A warning (a bad rss counter when an mm is freed, a bad page map) is a
	// finding the guest pins on its cell; it does not end the boot.
	return classify_kernel_line(line) == KernelLine::Fatal;
}

Boot boot_qemu(const VmOptions &o, const std::string &kernel, const std::string &qemu, const Accelerator &accel,
	       const std::string &initrd, const std::string &results_path, const std::string &stream_path, int boot_timeout_s)
{
	std::vector<std::string> argv = {qemu,
					 "-accel", accel.name,
					 "-m", fmt::format("{}M", o.mem_bytes >> 20),
					 "-smp", std::to_string(o.smp),
					 "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-no-reboot",
					 "-serial", "stdio",
					 "-serial", "file:" + results_path,
					 "-serial", "file:" + stream_path,
					 "-kernel", kernel,
					 "-initrd", initrd,
					 "-append", "console=ttyS0 panic=-1 loglevel=4 rdinit=/init " + std::string(o.hide_btf ? "odfbench.hide_btf=1 " : "") + o.append};
	if (accel.name == "kvm")
		argv.insert(argv.begin() + 3, {"-cpu", "host"});
	else
		argv.insert(argv.begin() + 3, {"-cpu", "max"});
	// Its own group: the terminal's Ctrl-C reaches odfbench, which stops it.
	SupervisedGroup qemu_group(
		[&](int) {
			std::vector<char *> cargv;
			for (auto &a : argv)
				cargv.push_back(a.data());
			cargv.push_back(nullptr);
			execv(cargv[0], cargv.data());
			_exit(127);
		},
		{.die_with_parent = true, .stdio_to_pipe = true});

	Boot b;
	Console con(isatty(2));
	uint64_t t0 = now_ns(), last_out = t0;
	uint64_t crash_at = 0;
	std::string partial;
	bool eof = false, cr_pending = false;
	auto elapsed = [&] { return (now_ns() - t0) / 1e9; };
	auto remember = [&](const std::string &l) {
		b.tail.push_back(l);
		if (b.tail.size() > 40)
			b.tail.pop_front();
	};
	while (!eof) {
		std::string chunk;
		auto got = qemu_group.poll_output(chunk, 1000);
		if (got == SupervisedGroup::Output::Closed)
			eof = true;
		else if (got == SupervisedGroup::Output::Data) {
			last_out = now_ns();
			for (char c : chunk) {
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
				if (!crash_at && is_kernel_crash_line(l)) {
					crash_at = now_ns();
					struct stat st = {};
					b.stream_bytes_at_crash = stat(stream_path.c_str(), &st) == 0 ? st.st_size : 0;
				}
				if (crash_at && b.crash.size() < 80)
					b.crash.push_back(l);
				if (l.find("odfbench-vm: guest up") != std::string::npos)
					b.booted = true;
			}
		}
		double t = elapsed();
		con.draw(accel.name, t);
		BootOutcome stop = BootOutcome::Finished;
		if (interrupted())
			stop = BootOutcome::Interrupted;
		else if (crash_at && now_ns() - crash_at > 3'000'000'000ull)  // let the trace print first
			stop = BootOutcome::KernelCrash;
		else if (t > o.timeout_s)
			stop = BootOutcome::Timeout;
		else if (!b.booted && t > boot_timeout_s)
			stop = BootOutcome::BootTimeout;
		else if (b.booted && (now_ns() - last_out) / 1e9 > o.silence_s)
			stop = BootOutcome::Silent;
		if (stop != BootOutcome::Finished) {
			con.clear();
			qemu_group.stop(2000, 10000);  // SIGTERM lets QEMU flush the results port
			b.outcome = stop;
			b.seconds = t;
			return b;
		}
	}
	con.clear();
	qemu_group.wait(30000);  // its output is closed: QEMU is exiting
	b.qemu_status = qemu_group.status();
	b.seconds = elapsed();
	b.outcome = crash_at ? BootOutcome::KernelCrash
		    : WIFEXITED(b.qemu_status) && WEXITSTATUS(b.qemu_status) == 0 ? BootOutcome::Finished
										   : BootOutcome::QemuFailed;
	return b;
}

std::string describe_failure(const Boot &b, const VmOptions &o)
{
	switch (b.outcome) {
	case BootOutcome::KernelCrash:
		return "the guest kernel crashed: " + (b.crash.empty() ? std::string("(no console line)") : b.crash.front());
	case BootOutcome::Timeout:
		return fmt::format("hard timeout: the VM ran for {} s (--timeout); QEMU was killed", o.timeout_s);
	case BootOutcome::BootTimeout:
		return fmt::format("the guest's init did not start within {} s (--boot-timeout); QEMU was killed", o.boot_timeout_s);
	case BootOutcome::Silent:
		return fmt::format("the guest went silent for {} s (no console output, no heartbeat); QEMU was killed", o.silence_s);
	case BootOutcome::Interrupted:
		return "interrupted; QEMU was killed";
	case BootOutcome::QemuFailed:
		return WIFEXITED(b.qemu_status) ? fmt::format("QEMU exited with status {}", WEXITSTATUS(b.qemu_status))
						: fmt::format("QEMU was killed by signal {}", WTERMSIG(b.qemu_status));
	case BootOutcome::Finished:
		break;
	}
	return "finished";
}

}  // namespace odfb
