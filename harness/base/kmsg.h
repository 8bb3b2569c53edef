// Kernel log lines pinned to what caused them.  The guest (or host) reads
// /dev/kmsg after each cell and each check, once its processes are gone, so a
// warning printed when a child's mm is freed lands on the cell that made it,
// not on whatever runs next.  Which lines end a boot and which are findings
// is decided here, for the console watcher (vm/qemu.cpp) and the readers alike.
#pragma once
#include <string>
#include <vector>

namespace odfb {

enum class KernelLine {
	Other,    // not a problem report
	Warning,  // the kernel found bad state and went on: a finding on the cell
	Fatal,    // an oops, panic, lockup or RCU stall: the boot is over
};
// Classifies one console or kmsg line (with or without the printk stamp).
KernelLine classify_kernel_line(const std::string &line);

// How a check skipped in a guest says "not here, in a fresh boot": the kernel
// is wedged, or an earlier check drew kernel warnings.  odfbench vm boots
// again for every check skipped this way.
inline constexpr const char *kNeedsFreshKernel = "not run on this kernel";

// New /dev/kmsg records from the moment it was opened, message text only.
// Unavailable (not root, no /dev/kmsg): drain() returns nothing and ok() is false.
class KmsgReader {
public:
	KmsgReader();
	~KmsgReader();
	KmsgReader(const KmsgReader &) = delete;
	KmsgReader &operator=(const KmsgReader &) = delete;
	bool ok() const { return fd_ >= 0; }
	std::vector<std::string> drain();

private:
	int fd_ = -1;
};

// Runs the calling thread once on every CPU it may use: each switches away
// from the lazy mm it kept, so a reaped process's mm is freed now.
void run_on_every_cpu();

// Runs on every CPU, then drains until the log has been quiet for quiet_ms (at most max_ms): an mm
// is freed, and checked, a moment after its last task is reaped.
std::vector<std::string> drain_settled(KmsgReader &r, int quiet_ms, int max_ms);

// The warning and fatal lines among `lines` (a cell's findings), at most `cap`.
std::vector<std::string> kernel_problem_lines(const std::vector<std::string> &lines, size_t cap = 50);

}  // namespace odfb
