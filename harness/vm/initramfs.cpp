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
#include <functional>
#include <set>
#include <sys/stat.h>
#include <vector>
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

// The libraries and loader ldd resolves for a dynamically linked program
// (none for a static one or a script).
std::vector<std::string> ldd_files(const std::string &prog)
{
	std::vector<std::string> files;
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
	return files;
}

bool is_elf(const std::string &path)
{
	char m[4] = {};
	std::ifstream in(path, std::ios::binary);
	return in.read(m, 4) && std::memcmp(m, "\x7f" "ELF", 4) == 0;
}

// A dynamically linked program (redis-server, say) and the libraries ldd
// resolves for it, at their host paths.
void add_program_with_libs(CpioWriter &w, ArchiveDirs &dirs, const std::string &prog)
{
	std::vector<std::string> files = ldd_files(prog);
	files.insert(files.begin(), prog);
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

// Each host path of what is carried, with what it is: its own bytes (a
// file, a symlink's target text) plus, for an ELF program, its libraries.
// Calls f(guest path, host path, kind) once per path; kind: 'f' file, 'l'
// symlink, 'd' directory.
void walk_carried(const GuestPlan &plan, const std::function<void(const std::string &, const std::string &, char)> &f)
{
	std::set<std::string> seen;
	// ldd only for what is named (a program, or a link to it), not for every
	// file inside a carried directory: /usr/lib holds thousands.
	std::vector<std::pair<dev_t, ino_t>> open_dirs;  // the directories being walked: a link back to one is a cycle
	// One spelling per path: a link to "." normalizes to "dir/", which would
	// escape `seen` and recurse through the link forever.
	auto norm = [](const std::string &p) {
		std::string s = fs::path(p).lexically_normal().string();
		while (s.size() > 1 && s.back() == '/')
			s.pop_back();
		return s;
	};
	std::function<void(const std::string &, const std::string &, bool)> one = [&](const std::string &guest_in, const std::string &host_in,
										     bool named) {
		const std::string guest = norm(guest_in), host = norm(host_in);
		if (!seen.insert(guest).second)
			return;
		std::error_code ec;
		// A link carried at its own path stays a link, and its target comes
		// too, as the link names it (python3 -> python3.11; /lib64's loader
		// -> /lib/...: not the canonical /usr/lib path, which the link would
		// not reach in a guest without merged /usr).  Elsewhere: its content.
		auto st = guest == host ? fs::symlink_status(host, ec) : fs::status(host, ec);
		if (fs::is_symlink(st)) {
			f(guest, host, 'l');
			auto target = (fs::path(host).parent_path() / fs::read_symlink(host, ec)).lexically_normal();
			if (!ec)
				one(target.string(), target.string(), named);
		} else if (fs::is_directory(st)) {
			struct stat sb {};
			if (::stat(host.c_str(), &sb) != 0)
				return;
			std::pair<dev_t, ino_t> id{sb.st_dev, sb.st_ino};
			if (std::find(open_dirs.begin(), open_dirs.end(), id) != open_dirs.end())
				return;  // reached again through a link inside itself
			f(guest, host, 'd');
			open_dirs.push_back(id);
			for (auto &e : fs::directory_iterator(host, ec))
				one(guest + "/" + e.path().filename().string(), e.path().string(), false);
			open_dirs.pop_back();
		} else if (fs::is_regular_file(st)) {
			f(guest, host, 'f');
			if (named && (st.permissions() & fs::perms::owner_exec) != fs::perms::none && is_elf(host))
				for (const auto &lib : ldd_files(host))
					one(lib, lib, false);
		}
	};
	for (const auto &[guest, host] : plan.carried)
		one(guest, host, true);
}

}  // namespace

uint64_t carried_bytes(const GuestPlan &plan)
{
	uint64_t n = 0;
	walk_carried(plan, [&](const std::string &, const std::string &host, char kind) {
		std::error_code ec;
		if (kind == 'f')
			n += fs::file_size(host, ec) + 512;  // plus a header's worth
		else
			n += 512;
	});
	return n;
}

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
	for (const char *d : {"bin", "dev", "proc", "sys", "tmp", "etc", "root", "work", "work/in", "work/out", "work/out/results", "run"})
		dirs.ensure(std::string(d) + "/x");
	// The kernel opens /dev/console for init before anything is mounted.
	w.chardev("dev/console", 5, 1);
	w.chardev("dev/null", 1, 3, 0666);
	w.file("bin/busybox", read_host_file(o.busybox), 0755);
	for (const char *applet : {"sh", "mount", "mkdir", "cat", "sleep", "stty", "find", "cpio", "poweroff", "sync", "uname",
				   "dmesg", "ls", "rm", "cp", "head", "tail", "grep", "ps", "free", "kill", "timeout", "true",
				   "false", "echo", "env", "printf", "test", "sed", "awk", "wc", "tr", "cut", "sort", "seq", "id", "date", "ip", "ifconfig",
				   "hostname", "chmod", "ln"})
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
	// A user's /etc: root only, so getpwuid(0) and `id` work.
	w.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
	w.file("etc/group", "root:x:0:\n");
	w.file("etc/hosts", "127.0.0.1 localhost\n");
	// What a spec's external programs need (the command's carry hook) and --with.
	walk_carried(plan, [&](const std::string &guest, const std::string &host, char kind) {
		std::string rel = guest.substr(1);
		dirs.ensure(rel);
		if (kind == 'd')
			dirs.ensure(rel + "/x");
		else if (kind == 'l')
			w.symlink(rel, fs::read_symlink(host).string());
		else
			w.file(rel, read_host_file(host), (fs::status(host).permissions() & fs::perms::owner_exec) != fs::perms::none ? 0755 : 0644);
	});
	for (const auto &[guest, host] : plan.inputs)
		w.file(guest.substr(1), read_host_file(host));
	w.file("vm.json", vm_info.dump(2) + "\n");
	w.file("init", guest_init_script(plan.args, std::max(5, o.timeout_s - 30)), 0755);
	return w.finish();
}

}  // namespace odfb
