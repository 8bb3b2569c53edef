#include "run/strategy.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "run/folio.h"

namespace odfb {

namespace {
std::string state_dir()
{
	const char *e = getenv("ODFBENCH_STATE_DIR");
	return e && *e ? e : "/run/odfbench";
}

// The bracketed word of a THP knob ("always [madvise] never" -> "madvise").
std::string bracketed(const std::string &path)
{
	std::ifstream in(path);
	std::string s;
	std::getline(in, s);
	auto a = s.find('['), b = s.find(']');
	if (a != std::string::npos && b != std::string::npos && b > a)
		return s.substr(a + 1, b - a - 1);
	// A bare word (not what sysfs shows, but what a plain file holds after a write).
	auto first = s.find_first_not_of(" \t"), last = s.find_last_not_of(" \t\n");
	return first == std::string::npos ? "" : s.substr(first, last - first + 1);
}

void write_knob(const std::string &path, const std::string &v)
{
	int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || write(fd, v.data(), v.size()) != static_cast<ssize_t>(v.size())) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		throw std::runtime_error(fmt::format("cannot write \"{}\" to {}: {}", v, path, std::strerror(e)));
	}
	close(fd);
}

// A process-owned (POSIX) write lock: not inherited by fork, dropped when the process dies.
int take_lock(bool wait, std::string &why)
{
	std::error_code ec;
	std::filesystem::create_directories(state_dir(), ec);
	std::string path = state_dir() + "/folio.lock";
	int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		why = fmt::format("cannot open {}: {}", path, std::strerror(errno));
		return -1;
	}
	struct flock fl {};
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (int i = 0; i < (wait ? 1200 : 1); ++i) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return fd;
		if (errno != EAGAIN && errno != EACCES)
			break;
		if (wait)
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	why = wait ? "another odfbench run has held the THP settings for 120 s" : "another odfbench run holds the THP settings";
	close(fd);
	return -1;
}

std::vector<std::string> knob_paths()
{
	std::vector<std::string> v{thp_sysfs_dir() + "/enabled"};
	for (auto kb : folio_sizes_offered())
		v.push_back(fmt::format("{}/hugepages-{}kB/enabled", thp_sysfs_dir(), kb));
	return v;
}

void restore_from(const nlohmann::json &saved)
{
	for (auto &[path, v] : saved.items())
		write_knob(path, v.get<std::string>());
}

bool uffd_wp_offered(std::string &why)
{
	int fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
	if (fd < 0)
		fd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC));
	if (fd < 0) {
		why = fmt::format("userfaultfd: {}", std::strerror(errno));
		return false;
	}
	struct uffdio_api api {};
	api.api = UFFD_API;
	api.features = 0;
	bool ok = ioctl(fd, UFFDIO_API, &api) == 0;
	close(fd);
	if (!ok) {
		why = fmt::format("UFFDIO_API: {}", std::strerror(errno));
		return false;
	}
	if (!(api.features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
		why = "userfaultfd has no write-protect feature for anonymous memory (UFFD_FEATURE_PAGEFAULT_FLAG_WP)";
		return false;
	}
	return true;
}
}  // namespace

std::string folio_state_path() { return state_dir() + "/folio-state.json"; }

std::string strategy_unavailable(Mode m)
{
	if (unsigned kb = mode_folio_kb(m)) {
		auto sizes = folio_sizes_offered();
		if (std::find(sizes.begin(), sizes.end(), kb) == sizes.end())
			return fmt::format("kernel has no {} KiB anonymous folios ({}/hugepages-{}kB/enabled is missing)", kb,
					   thp_sysfs_dir(), kb);
	}
	if (m == Mode::UffdWp) {
		std::string why;
		if (!uffd_wp_offered(why))
			return why;
	}
	return "";
}

FolioSetting::FolioSetting(Mode m)
{
	unsigned kb = mode_folio_kb(m);
	if (!kb)
		return;
	std::string why;
	lock_fd_ = take_lock(true, why);
	if (lock_fd_ < 0)
		throw std::runtime_error("THP settings: " + why);
	saved_ = nlohmann::json::object();
	for (const auto &p : knob_paths())
		saved_[p] = bracketed(p);
	{
		std::string tmp = folio_state_path() + ".tmp";
		std::ofstream out(tmp);
		out << nlohmann::json{{"pid", getpid()}, {"saved", saved_}}.dump(1) << "\n";
		out.close();
		if (!out || rename(tmp.c_str(), folio_state_path().c_str()) != 0) {
			close(lock_fd_);
			throw std::runtime_error(fmt::format("cannot write {}: the THP settings could not be restored after a crash, so none are changed",
							     folio_state_path()));
		}
	}
	nlohmann::json set = nlohmann::json::object();
	try {
		for (auto size : folio_sizes_offered()) {
			std::string p = fmt::format("{}/hugepages-{}kB/enabled", thp_sysfs_dir(), size);
			std::string v = size == kb ? "madvise" : "never";
			write_knob(p, v);
			set[p] = v;
		}
	} catch (...) {
		restore();
		throw;
	}
	json_ = {{"folio_kb", kb}, {"set", set}, {"saved", saved_}, {"defrag", bracketed(thp_sysfs_dir() + "/defrag")}};
}

void FolioSetting::restore()
{
	if (lock_fd_ < 0)
		return;
	try {
		restore_from(saved_);
		std::remove(folio_state_path().c_str());
	} catch (const std::exception &e) {
		// The state file stays: the next odfbench start tries again.
		fmt::print(stderr, "odfbench: warning: restoring THP settings: {} (kept {})\n", e.what(), folio_state_path());
	}
	close(lock_fd_);
	lock_fd_ = -1;
}

FolioSetting::~FolioSetting() { restore(); }

std::string restore_stale_folio_setting()
{
	std::error_code ec;
	if (!std::filesystem::exists(folio_state_path(), ec))
		return "";
	std::string why;
	int fd = take_lock(false, why);
	if (fd < 0)
		return "";  // a live run owns them
	std::string done;
	try {
		std::ifstream in(folio_state_path());
		auto j = nlohmann::json::parse(in);
		restore_from(j.at("saved"));
		std::remove(folio_state_path().c_str());
		done = fmt::format("restored the THP settings that odfbench pid {} left changed ({})", j.value("pid", 0), folio_state_path());
	} catch (const std::exception &e) {
		done = fmt::format("warning: could not restore THP settings from {}: {}", folio_state_path(), e.what());
	}
	close(fd);
	return done;
}

void judge_folio_trials(nlohmann::json &r, Mode m)
{
	unsigned kb = mode_folio_kb(m);
	if (!kb)
		return;
	size_t verified = 0, n = r["trials"].size();
	for (const auto &t : r["trials"])
		verified += t.value("folio_verified", false);
	r["folio_verified_trials"] = verified;
	if (r["status"] == "ok" && verified != n) {
		r["status"] = "error";
		r["reason"] = fmt::format("{} KiB folios were requested but found mapping the region in only {} of {} trials "
					  "(see trials[].folio_census): not a {} result", kb, verified, n, mode_name(m));
	}
}

}  // namespace odfb
