#include "base/sysinfo.h"
#include "base/sizes.h"

#include <cctype>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <string_view>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace odfb {

std::string kernel_release()
{
	struct utsname u;
	return uname(&u) == 0 ? u.release : "unknown";
}

std::string thp_mode()
{
	std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
	std::string line;
	if (!std::getline(in, line))
		return "unavailable";
	auto a = line.find('['), b = line.find(']');
	return a != std::string::npos && b > a ? line.substr(a + 1, b - a - 1) : line;
}

bool kernel_btf_present()
{
	struct stat st;
	return stat("/sys/kernel/btf/vmlinux", &st) == 0;
}

uint64_t mem_available_bytes(const std::string &meminfo)
{
	std::ifstream in(meminfo);
	std::string key;
	uint64_t kb;
	std::string unit;
	while (in >> key >> kb) {
		std::getline(in, unit);
		if (key == "MemAvailable:")
			return kb * 1024;
	}
	return 0;
}

int64_t proc_status_kb(int pid, const std::string &field)
{
	std::ifstream in(fmt::format("/proc/{}/status", pid));
	std::string line, want = field + ":";
	while (std::getline(in, line))
		if (line.rfind(want, 0) == 0)
			return std::stoll(line.substr(want.size()));
	return -1;
}

std::string memory_guard(uint64_t need, double fraction)
{
	uint64_t avail = mem_available_bytes();
	if (static_cast<double>(need) <= fraction * static_cast<double>(avail))
		return "";
	return fmt::format("needs {}, more than {:.0f}% of MemAvailable ({:.1f} GiB); refusing", format_size(need),
			   fraction * 100, static_cast<double>(avail) / (1ULL << 30));
}

nlohmann::json vm_environment()
{
	const char *p = getenv("ODFBENCH_VM_INFO");
	if (!p)
		return nullptr;
	try {
		return nlohmann::json::parse(std::ifstream(p));
	} catch (const std::exception &) {
		return {{"error", fmt::format("{} unreadable", p)}};
	}
}

pid_t parent_pid(pid_t pid)
{
	std::ifstream f(fmt::format("/proc/{}/stat", pid));
	std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	auto rp = s.rfind(')');
	if (rp == std::string::npos)
		return -1;
	std::istringstream in(s.substr(rp + 1));
	std::string state;
	pid_t ppid = -1;
	in >> state >> ppid;
	return ppid;
}

pid_t first_child(pid_t parent)
{
	std::ifstream f(fmt::format("/proc/{}/task/{}/children", parent, parent));
	if (f) {  // the kernel keeps the list: trust it, empty or not
		pid_t c = -1;
		return (f >> c) && c > 0 ? c : -1;
	}
	std::error_code ec;  // no CONFIG_PROC_CHILDREN: ask every process
	for (const auto &e : std::filesystem::directory_iterator("/proc", ec)) {
		const std::string n = e.path().filename().string();
		if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos)
			continue;
		pid_t p = static_cast<pid_t>(std::stol(n));
		if (parent_pid(p) == parent)
			return p;
	}
	return -1;
}

bool have_bpf_privileges(std::string &why)
{
	if (geteuid() == 0)
		return true;
	__user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[2]{};
	if (syscall(SYS_capget, &hdr, data) == 0) {
		auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1; };
		if (has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON)))
			return true;
	}
	why = "odfbench needs root (or CAP_BPF and CAP_PERFMON) to load its BPF probes; run it as root";
	return false;
}

namespace {
constexpr uint64_t kInitialPidNamespaceInode = 0xEFFFFFFCu;  // PROC_PID_INIT_INO, fixed in the kernel ABI
}

bool PidNamespace::proc_matches() const { return proc_self == getpid(); }

PidNamespace pid_namespace()
{
	PidNamespace ns;
	struct stat st;
	if (stat("/proc/self/ns/pid", &st) == 0) {
		ns.inode = st.st_ino;
		ns.device = st.st_dev;
		ns.initial = st.st_ino == kInitialPidNamespaceInode;
	}
	char buf[32] = {};
	if (readlink("/proc/self", buf, sizeof(buf) - 1) > 0)
		ns.proc_self = static_cast<pid_t>(std::atoi(buf));
	return ns;
}

int count_vmas(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[8192];
	int lines = 0;
	bool vsyscall = false;
	std::string_view needle = "[vsyscall]";
	size_t matched = 0;  // of needle, across reads
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; ++i) {
			lines += buf[i] == '\n';
			matched = buf[i] == needle[matched] ? matched + 1 : buf[i] == needle[0] ? 1 : 0;
			if (matched == needle.size()) {
				vsyscall = true;
				matched = 0;
			}
		}
	close(fd);
	return n < 0 ? -1 : lines - vsyscall;
}

std::string file_tail(const std::string &path, size_t max_chars)
{
	std::ifstream in(path);
	std::string text{std::istreambuf_iterator<char>(in), {}};
	while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
		text.pop_back();
	if (text.size() > max_chars)
		text = "..." + text.substr(text.size() - max_chars);
	return text;
}

std::string find_program(const std::string &prog)
{
	if (prog.find('/') != std::string::npos)
		return access(prog.c_str(), X_OK) == 0 ? prog : "";
	const char *path = getenv("PATH");
	std::string p = path ? path : "/usr/bin:/bin";
	p += ":/usr/sbin:/sbin";
	size_t start = 0;
	while (start <= p.size()) {
		size_t end = p.find(':', start);
		std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
		if (!dir.empty() && access((dir + "/" + prog).c_str(), X_OK) == 0)
			return dir + "/" + prog;
		if (end == std::string::npos)
			break;
		start = end + 1;
	}
	return "";
}

nlohmann::json host_json()
{
	std::string model = "unknown", line;
	std::ifstream cpu("/proc/cpuinfo");
	while (std::getline(cpu, line))
		if (line.rfind("model name", 0) == 0) {
			model = line.substr(line.find(':') + 2);
			break;
		}
	char host[256] = {};
	gethostname(host, sizeof(host) - 1);
	uint64_t total = 0;
	std::ifstream mi("/proc/meminfo");
	std::string key;
	uint64_t kb;
	if (mi >> key >> kb && key == "MemTotal:")
		total = kb * 1024;
	return {{"hostname", host},
		{"cpu_model", model},
		{"cpus_online", sysconf(_SC_NPROCESSORS_ONLN)},
		{"mem_total_bytes", total},
		{"mem_available_bytes", mem_available_bytes()},
		{"thp", thp_mode()},
		{"page_size", sysconf(_SC_PAGESIZE)}};
}

uint64_t now_ns()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

std::string utc_timestamp()
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return fmt::format("{}.{:03}Z", buf, ts.tv_nsec / 1000000);
}

}  // namespace odfb
