#include "record/result_stream.h"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace odfb {

ResultStream::ResultStream(const std::string &path)
{
	if (!path.empty())
		fd_ = open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
}

ResultStream::~ResultStream()
{
	if (fd_ >= 0)
		close(fd_);
}

void ResultStream::send(const nlohmann::json &event)
{
	if (fd_ < 0)
		return;
	// The time on the clock printk stamps console lines with (both count from
	// boot), so the host can tell which cell a kernel message came in.
	timespec ts{};
	clock_gettime(CLOCK_MONOTONIC, &ts);
	nlohmann::json e = event;
	e["t"] = ts.tv_sec + ts.tv_nsec / 1e9;
	std::string s = "ODFBENCH-EVENT " + e.dump() + "\n";
	for (size_t off = 0; off < s.size();) {
		ssize_t n = write(fd_, s.data() + off, s.size() - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += static_cast<size_t>(n);
	}
	if (isatty(fd_))
		tcdrain(fd_);  // out of the UART before the next cell can crash the kernel
	else
		fsync(fd_);
}

}  // namespace odfb
