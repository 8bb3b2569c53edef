// The processes and files a kernel build works with: commands run with
// their output appended to a log, hashes, the packages a build needs.
// Shared by the cache (kernel/cache.cpp) and the build (kernel/build.cpp).
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace odfb {

std::string slurp(const std::string &path);  // "" when unreadable
std::string trim(std::string s);
// Runs argv with extra environment, stdout+stderr appended to log.  While
// it runs, tick() is called about twice a second.  Returns the wait status.
int run_logged(const std::vector<std::string> &argv, const std::map<std::string, std::string> &env, const std::string &log,
	       const std::function<void()> &tick = {});
std::string tail_of(const std::string &log, size_t lines);
std::string sha256_of_file(const std::string &path);  // hex; throws std::runtime_error
// Lines make prints per object built, from byte `from` of the log on; `from`
// moves past what was read, so a long build is not reread every second.
size_t count_build_steps(const std::string &log, size_t &from);
std::string clock_text(double s);
std::string compiler_version(const std::string &cc);
// Missing build packages are installed only when a build is asked for, the
// way `make deps` does it.
void ensure_packages(const std::vector<std::string> &pkgs);
extern const std::vector<std::string> kBuildPackages;

}  // namespace odfb
