#include "vm/initramfs.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gelf.h>
#include <libelf.h>
#include <set>
#include <stdexcept>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "vm/cpio.h"
#include "base/sizes.h"
#include "base/sysinfo.h"
#include "vm/options.h"
#include "vm/guest.h"

namespace fs = std::filesystem;

namespace odfb {

namespace {

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
		w.file(rel, read_host_file(file), 0755);
	}
}

// This binary without its debug info: a RelWithDebInfo build is ~75 MB, most
// of it DWARF the guest never reads, and every byte is copied into the
// initramfs and unpacked by the guest kernel at boot.  Unstripped (with a
// note on stderr) when objcopy is missing or fails.
std::string guest_binary()
{
	std::string objcopy = find_program("objcopy");
	if (!objcopy.empty()) {
		char path[] = "/tmp/odfbench-guest-XXXXXX";
		int fd = mkstemp(path);
		if (fd >= 0) {
			close(fd);
			// Our pid, not "self": in objcopy's process /proc/self/exe is objcopy.
			std::string cmd = fmt::format("'{}' --strip-debug /proc/{}/exe '{}' 2>/dev/null", objcopy, getpid(), path);
			std::string bytes = std::system(cmd.c_str()) == 0 ? read_host_file(path) : "";
			unlink(path);
			if (!bytes.empty())
				return bytes;
		}
	}
	fmt::print(stderr, "vm: packing odfbench with its debug info ({}): objcopy --strip-debug {}\n",
		   format_size(fs::file_size("/proc/self/exe")), objcopy.empty() ? "not found" : "failed");
	return read_host_file("/proc/self/exe");
}

}  // namespace

std::string read_host_file(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::invalid_argument(fmt::format("cannot read {}: {}", path, strerror(errno)));
	return {std::istreambuf_iterator<char>(in), {}};
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

std::string build_initramfs(const VmOptions &o, const GuestPlan &plan, const nlohmann::json &vm_info)
{
	CpioWriter w;
	ArchiveDirs dirs(w);
	for (const char *d : {"bin", "dev", "proc", "sys", "tmp", "work", "work/in", "work/out", "work/out/results", "run"})
		dirs.ensure(std::string(d) + "/x");
	// The kernel opens /dev/console for init before anything is mounted.
	w.chardev("dev/console", 5, 1);
	w.chardev("dev/null", 1, 3, 0666);
	w.file("bin/busybox", read_host_file(o.busybox), 0755);
	for (const char *applet : {"sh", "mount", "mkdir", "cat", "sleep", "stty", "find", "cpio", "poweroff", "sync", "uname",
				   "dmesg", "ls", "rm", "cp", "head", "tail", "grep", "ps", "free", "kill", "timeout", "true",
				   "false", "echo", "env", "printf", "test", "sed", "awk", "wc", "tr", "cut", "sort", "seq", "id", "date"})
		w.symlink(fmt::format("bin/{}", applet), "busybox");
	static const std::string odfbench = guest_binary();  // once, though a KVM boot that fails retries under TCG
	w.file("bin/odfbench", odfbench, 0755);
	// Helper programs the workloads look for beside odfbench (the static fuzz targets).
	auto self_dir = fs::read_symlink("/proc/self/exe").parent_path();
	for (const char *helper : {"odfbench-fuzz-target", "odfbench-fuzz-target-afl"})
		if (access((self_dir / helper).c_str(), R_OK) == 0)
			w.file(fmt::format("bin/{}", helper), read_host_file(self_dir / helper), 0755);
	// Programs the workloads run, with their libraries: redis-server for redis-snapshot.
	for (const char *prog : {"/usr/bin/redis-server"})
		if (access(prog, X_OK) == 0)
			add_program_with_libs(w, dirs, prog);
	for (const auto &[guest, host] : plan.inputs)
		w.file(guest.substr(1), read_host_file(host));
	w.file("vm.json", vm_info.dump(2) + "\n");
	w.file("init", guest_init_script(plan.args, std::max(5, o.timeout_s - 30)), 0755);
	return w.finish();
}

}  // namespace odfb
