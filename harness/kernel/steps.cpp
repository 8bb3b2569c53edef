#include "kernel/steps.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "base/supervise.h"
#include "base/sysinfo.h"

namespace fs = std::filesystem;

namespace odfb {

std::string slurp(const std::string &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw std::runtime_error(fmt::format("{}: {}", path, strerror(errno)));
	std::ostringstream s;
	s << in.rdbuf();
	return s.str();
}

std::string trim(std::string s)
{
	while (!s.empty() && isspace(static_cast<unsigned char>(s.back())))
		s.pop_back();
	return s;
}

int run_logged(const std::vector<std::string> &argv, const std::map<std::string, std::string> &env, const std::string &log,
	       const std::function<void()> &tick)
{
	SupervisedGroup g([&](int out_fd) {
		fcntl(out_fd, F_SETFD, 0);  // held across exec by every process of the stage: closed when all are done
		int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		for (auto &[k, v] : env)
			setenv(k.c_str(), v.c_str(), 1);
		std::vector<char *> a;
		for (auto &s : argv)
			a.push_back(const_cast<char *>(s.c_str()));
		a.push_back(nullptr);
		execvp(a[0], a.data());
		_exit(127);
	});
	for (;;) {
		if (interrupted()) {
			g.stop(2000, 10000);
			throw std::runtime_error("interrupted; the build tree is kept, and the next build continues from it");
		}
		std::string ignored;
		if (g.poll_output(ignored, 500) == SupervisedGroup::Output::Closed) {
			g.wait(600000);
			return g.status();
		}
		if (tick)
			tick();
	}
}

std::string tail_of(const std::string &log, size_t lines)
{
	std::string text;
	try {
		text = slurp(log);
	} catch (const std::exception &) {
		return "";
	}
	size_t pos = text.size();
	for (size_t n = 0; n <= lines && pos > 0;)
		if (text[--pos] == '\n')
			++n;
	return text.substr(pos ? pos + 1 : 0);
}

std::string sha256_of_file(const std::string &path)
{
	std::string out = path + ".sha256";
	int st = run_logged({"sh", "-c", "sha256sum < \"$0\" > \"$1\"", path, out}, {}, "/dev/null");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		throw std::runtime_error("sha256sum failed");
	std::string h = slurp(out);
	fs::remove(out);
	return h.substr(0, 64);
}

size_t count_build_steps(const std::string &log, size_t &from)
{
	std::ifstream in(log);
	in.seekg(static_cast<std::streamoff>(from));
	size_t n = 0;
	std::string line;
	std::streamoff done = static_cast<std::streamoff>(from);
	while (std::getline(in, line)) {
		if (in.eof())
			break;  // a line still being written: counted next time
		done = in.tellg();
		n += line.rfind("  CC ", 0) == 0 || line.rfind("  AS ", 0) == 0 || line.rfind("  LD ", 0) == 0 ||
		     line.rfind("  AR ", 0) == 0 || line.rfind("  HOSTCC ", 0) == 0;
	}
	from = static_cast<size_t>(done);
	return n;
}

std::string clock_text(double s)
{
	int m = static_cast<int>(s) / 60;
	return fmt::format("{}m{:02d}s", m, static_cast<int>(s) % 60);
}

std::string compiler_version(const std::string &cc)
{
	std::string out = fs::temp_directory_path() / fmt::format("odfbench-cc-{}", getpid());
	run_logged({"sh", "-c", "\"$0\" --version | head -1 > \"$1\"", cc.empty() ? "gcc" : cc, out}, {}, "/dev/null");
	std::string v;
	try {
		v = trim(slurp(out));
	} catch (const std::exception &) {
	}
	fs::remove(out);
	return v;
}

void ensure_packages(const std::vector<std::string> &pkgs)
{
	std::vector<std::string> missing;
	for (const auto &p : pkgs) {
		std::string cmd = fmt::format("dpkg-query -W -f='${{Status}}' {} 2>/dev/null | grep -q 'install ok installed'", p);
		if (std::system(cmd.c_str()) != 0)
			missing.push_back(p);
	}
	if (missing.empty())
		return;
	std::string list;
	for (const auto &p : missing)
		list += " " + p;
	if (geteuid() != 0)
		throw std::runtime_error(fmt::format("the kernel build needs these Debian packages; install them as root:{}", list));
	fmt::print(stderr, "kernel: installing{}\n", list);
	std::string cmd = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends" + list +
			  " >&2";
	if (std::system(cmd.c_str()) != 0)
		throw std::runtime_error(fmt::format("apt-get install{} failed", list));
}

const std::vector<std::string> kBuildPackages = {"git", "make", "gcc", "flex", "bison", "bc", "libssl-dev", "libelf-dev",
						 "dwarves", "cpio", "kmod", "python3"};

}  // namespace odfb
