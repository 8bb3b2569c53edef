#include "check/host_setup.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <linux/loop.h>
#include <stdexcept>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "run/folio.h"

namespace odfb {

namespace {

constexpr uint64_t kSwapBytes = 64ull << 20;

std::string state_dir()
{
	const char *e = getenv("ODFBENCH_STATE_DIR");
	return e && *e ? e : "/run/odfbench";
}

std::string read_line(const std::string &path)
{
	std::ifstream in(path);
	std::string s;
	std::getline(in, s);
	return s;
}

// The bracketed word of a THP knob ("always [madvise] never" -> "madvise").
std::string bracketed(const std::string &s)
{
	auto a = s.find('['), b = s.find(']');
	return a != std::string::npos && b != std::string::npos && b > a ? s.substr(a + 1, b - a - 1) : s;
}

void write_file(const std::string &path, const std::string &v)
{
	int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, v.data(), v.size()) != static_cast<ssize_t>(v.size())) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		throw std::runtime_error(fmt::format("cannot write \"{}\" to {}: {}", v, path, strerror(e)));
	}
	close(fd);
}

// Active swap areas, from /proc/swaps (header line skipped).
std::vector<std::string> active_swaps()
{
	std::ifstream in("/proc/swaps");
	std::vector<std::string> out;
	std::string line;
	std::getline(in, line);
	while (std::getline(in, line))
		if (auto sp = line.find_first_of(" \t"); sp != std::string::npos && sp > 0)
			out.push_back(line.substr(0, sp));
	return out;
}

void write_swap_header(int fd, const std::string &what)
{
	auto h = swap_header(kSwapBytes, sysconf(_SC_PAGESIZE));
	if (pwrite(fd, h.data(), h.size(), 0) != static_cast<ssize_t>(h.size()) || fsync(fd) != 0)
		throw std::runtime_error(fmt::format("writing a swap header to {}: {}", what, strerror(errno)));
}

// One undo step; errors are returned, not thrown: undo goes on with the rest.
std::string apply(const nlohmann::json &s)
{
	std::string op = s.value("op", "");
	try {
		if (op == "write") {
			write_file(s.at("path"), s.at("value"));
		} else if (op == "swapoff") {
			std::string p = s.at("path");
			auto on = active_swaps();
			if (std::find(on.begin(), on.end(), p) != on.end() && swapoff(p.c_str()) != 0)
				return fmt::format("swapoff {}: {}", p, strerror(errno));
		} else if (op == "zram-reset") {
			write_file(fmt::format("/sys/block/{}/reset", s.at("dev").get<std::string>()), "1");
		} else if (op == "zram-remove") {
			write_file("/sys/class/zram-control/hot_remove", std::to_string(s.at("id").get<int>()));
		} else if (op == "loop-clear") {
			std::string p = s.at("path");
			int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return fmt::format("open {}: {}", p, strerror(errno));
			if (ioctl(fd, LOOP_CLR_FD, 0) != 0 && errno != ENXIO)
				return fmt::format("LOOP_CLR_FD {}: {}", p, strerror(errno));
			close(fd);
		}
	} catch (const std::exception &e) {
		return e.what();
	}
	return "";
}

std::string apply_all(const nlohmann::json &steps)
{
	std::string errs;
	for (auto it = steps.rbegin(); it != steps.rend(); ++it)
		if (auto e = apply(*it); !e.empty())
			errs += (errs.empty() ? "" : "; ") + e;
	return errs;
}

int take_lock(bool wait)
{
	std::error_code ec;
	std::filesystem::create_directories(state_dir(), ec);
	int fd = open((state_dir() + "/check-setup.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct flock fl {};
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (int i = 0; i < (wait ? 600 : 1); ++i) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return fd;
		if (wait)
			std::this_thread::sleep_for(std::chrono::milliseconds(100));
	}
	close(fd);
	return -1;
}

}  // namespace

std::string host_setup_journal_path() { return state_dir() + "/check-setup.json"; }

std::vector<char> swap_header(uint64_t bytes, long page_size)
{
	std::vector<char> h(static_cast<size_t>(page_size), 0);
	uint32_t version = 1, last_page = static_cast<uint32_t>(bytes / page_size - 1), bad = 0;
	memcpy(h.data() + 1024, &version, 4);
	memcpy(h.data() + 1028, &last_page, 4);
	memcpy(h.data() + 1032, &bad, 4);
	memcpy(h.data() + 1036, "odfbench-swap-id", 16);  // uuid
	memcpy(h.data() + 1052, "odfbench", 8);           // label
	memcpy(h.data() + page_size - 10, "SWAPSPACE2", 10);
	return h;
}

HostSetup::HostSetup(const std::vector<std::string> &needs)
{
	for (const auto &n : needs)
		if (n != kNeedKhugepaged && n != kNeedSwap)
			throw std::invalid_argument(fmt::format("unknown host setup \"{}\"", n));
	if (needs.empty())
		return;
	if (geteuid() != 0) {
		unavailable_ = "needs root (machine-wide settings)";
		return;
	}
	lock_fd_ = take_lock(true);
	if (lock_fd_ < 0) {
		unavailable_ = fmt::format("another odfbench check held {} for 60 s", state_dir() + "/check-setup.lock");
		return;
	}
	try {
		for (const auto &n : needs) {
			if (n == kNeedKhugepaged)
				khugepaged();
			else
				swap();
			if (!unavailable_.empty())
				break;
		}
	} catch (const std::exception &e) {
		unavailable_ = e.what();
	}
	if (!unavailable_.empty())
		undo();
}

HostSetup::~HostSetup() { undo(); }

void HostSetup::journal(nlohmann::json step)
{
	undo_.push_back(std::move(step));
	std::string tmp = host_setup_journal_path() + ".tmp";
	{
		std::ofstream out(tmp);
		out << nlohmann::json{{"pid", getpid()}, {"undo", undo_}}.dump() << "\n";
		if (!out)
			throw std::runtime_error(fmt::format("cannot write {}", tmp));
	}
	if (rename(tmp.c_str(), host_setup_journal_path().c_str()) != 0)
		throw std::runtime_error(fmt::format("cannot write {}: {}", host_setup_journal_path(), strerror(errno)));
}

void HostSetup::undo()
{
	if (lock_fd_ < 0)
		return;
	if (auto errs = apply_all(undo_); errs.empty())
		std::remove(host_setup_journal_path().c_str());
	else  // the journal stays: the next `check` tries again
		fprintf(stderr, "odfbench: warning: undoing the check's machine settings: %s (kept %s)\n", errs.c_str(),
			host_setup_journal_path().c_str());
	undo_ = nlohmann::json::array();
	close(lock_fd_);
	lock_fd_ = -1;
}

void HostSetup::khugepaged()
{
	std::string thp = thp_sysfs_dir(), dir = thp + "/khugepaged";
	std::string enabled = bracketed(read_line(thp + "/enabled"));
	if (enabled.empty() || !std::filesystem::exists(dir + "/scan_sleep_millisecs")) {
		unavailable_ = "no transparent hugepages (no khugepaged knobs)";
		return;
	}
	if (enabled == "never") {
		unavailable_ = "transparent hugepages are off (enabled: never)";
		return;
	}
	// Scan at once and often; collapse pages a fork shares too (the default
	// max_ptes_shared of 256 would refuse every range a classic fork shares).
	nlohmann::json set = {{"scan_sleep_millisecs", "10"}, {"alloc_sleep_millisecs", "10"},
			      {"pages_to_scan", "4096"}, {"max_ptes_shared", "511"}, {"max_ptes_none", "511"}};
	nlohmann::json saved = nlohmann::json::object();
	for (auto &[knob, v] : set.items()) {
		std::string p = dir + "/" + knob, old = read_line(p);
		if (old.empty())
			continue;  // an older kernel without this knob
		saved[knob] = old;
		journal({{"op", "write"}, {"path", p}, {"value", old}});
		write_file(p, v.get<std::string>());
	}
	json_["khugepaged"] = {{"set", set}, {"saved", saved}};
}

void HostSetup::swap()
{
	if (auto on = active_swaps(); !on.empty()) {
		json_["swap"] = {{"device", on[0]}, {"set_up", false}};
		return;
	}
	std::string zram_why, loop_why;
	// zram: a device of our own (hot_add), else an unused zram0.
	try {
		std::string dev;
		if (std::filesystem::exists("/sys/class/zram-control/hot_add")) {
			std::string id = read_line("/sys/class/zram-control/hot_add");
			if (id.empty())
				throw std::runtime_error("zram hot_add gave no device");
			journal({{"op", "zram-remove"}, {"id", std::stoi(id)}});
			dev = "zram" + id;
		} else if (read_line("/sys/block/zram0/disksize") == "0") {
			dev = "zram0";
		} else {
			throw std::runtime_error("no zram (no /sys/class/zram-control, no unused zram0)");
		}
		journal({{"op", "zram-reset"}, {"dev", dev}});
		write_file(fmt::format("/sys/block/{}/disksize", dev), std::to_string(kSwapBytes));
		std::string path = "/dev/" + dev;
		int fd = -1;
		for (int i = 0; i < 50 && fd < 0; ++i) {  // the node may appear a moment later (udev)
			fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
			if (fd < 0)
				usleep(20000);
		}
		if (fd < 0)
			throw std::runtime_error(fmt::format("open {}: {}", path, strerror(errno)));
		write_swap_header(fd, path);
		close(fd);
		journal({{"op", "swapoff"}, {"path", path}});
		if (swapon(path.c_str(), 0) != 0)
			throw std::runtime_error(fmt::format("swapon {}: {}", path, strerror(errno)));
		json_["swap"] = {{"device", path}, {"set_up", true}, {"bytes", kSwapBytes}};
		return;
	} catch (const std::exception &e) {
		zram_why = e.what();
		apply_all(undo_);  // this attempt's steps; the journal is rewritten by the next
		undo_ = nlohmann::json::array();
	}
	// A loop device on a memfd: swap in memory, but swap all the same.
	try {
		int mfd = memfd_create("odfbench-swap", MFD_CLOEXEC);
		if (mfd < 0 || ftruncate(mfd, kSwapBytes) != 0)
			throw std::runtime_error(fmt::format("memfd for the loop device: {}", strerror(errno)));
		write_swap_header(mfd, "the memfd");
		int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
		int n = ctl < 0 ? -1 : ioctl(ctl, LOOP_CTL_GET_FREE);
		if (ctl >= 0)
			close(ctl);
		if (n < 0) {
			close(mfd);
			throw std::runtime_error(fmt::format("/dev/loop-control: {}", strerror(errno)));
		}
		std::string path = fmt::format("/dev/loop{}", n);
		int lfd = open(path.c_str(), O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			close(mfd);
			throw std::runtime_error(fmt::format("open {}: {}", path, strerror(errno)));
		}
		journal({{"op", "loop-clear"}, {"path", path}});
		int rc = ioctl(lfd, LOOP_SET_FD, mfd);
		int e = errno;
		close(mfd);  // the loop device holds it now
		close(lfd);
		if (rc != 0)
			throw std::runtime_error(fmt::format("LOOP_SET_FD {}: {}", path, strerror(e)));
		journal({{"op", "swapoff"}, {"path", path}});
		if (swapon(path.c_str(), 0) != 0)
			throw std::runtime_error(fmt::format("swapon {}: {}", path, strerror(errno)));
		json_["swap"] = {{"device", path}, {"set_up", true}, {"bytes", kSwapBytes}, {"backing", "memfd"}};
		return;
	} catch (const std::exception &e) {
		loop_why = e.what();
	}
	unavailable_ = fmt::format("no swap is active and none could be set up (zram: {}; loop: {})", zram_why, loop_why);
}

std::string undo_stale_host_setup()
{
	std::error_code ec;
	if (!std::filesystem::exists(host_setup_journal_path(), ec))
		return "";
	int fd = take_lock(false);
	if (fd < 0)
		return "";  // a live check owns it
	std::string done;
	try {
		std::ifstream in(host_setup_journal_path());
		auto j = nlohmann::json::parse(in);
		std::string errs = apply_all(j.at("undo"));
		if (errs.empty())
			std::remove(host_setup_journal_path().c_str());
		done = errs.empty() ? fmt::format("undid the machine settings that odfbench pid {} left ({})", j.value("pid", 0),
						  host_setup_journal_path())
				    : fmt::format("warning: undoing {}: {}", host_setup_journal_path(), errs);
	} catch (const std::exception &e) {
		done = fmt::format("warning: could not read {}: {}", host_setup_journal_path(), e.what());
	}
	close(fd);
	return done;
}

}  // namespace odfb
