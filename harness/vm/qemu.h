// QEMU for `odfbench vm`: which accelerator, and one boot of the guest with
// its console streamed to the user and the way it ended told apart.
#pragma once
#include <deque>
#include <string>
#include <vector>

namespace odfb {

struct VmOptions;

struct Accelerator {
	std::string name;    // "kvm" or "tcg"
	std::string reason;  // why
};

// kvm only if /dev/kvm answers KVM_GET_API_VERSION and the CPU has vmx/svm:
// a paravirtual /dev/kvm without them cannot run a stock guest kernel.
Accelerator choose_accelerator(const std::string &requested, const std::string &cpuinfo = "/proc/cpuinfo");

enum class BootOutcome { Finished, KernelCrash, Timeout, BootTimeout, Silent, Interrupted, QemuFailed };
const char *outcome_name(BootOutcome o);  // "finished", "kernel-crash", ...

// A console line that says the guest kernel is broken: an oops, a BUG other
// than the warnings base/kmsg.h names, a panic, a general protection fault, a
// lockup or an RCU stall.
bool is_kernel_crash_line(const std::string &line);

struct Boot {
	BootOutcome outcome = BootOutcome::QemuFailed;
	bool booted = false;
	int qemu_status = 0;
	std::deque<std::string> tail;  // last console lines
	std::vector<std::string> crash;  // from the first crash line on (KernelCrash)
	// How much of the event stream had arrived when the first crash line did:
	// the cell running then is the one to blame, and what came after ran on a
	// kernel that had already reported a bug.  -1: no crash.
	long long stream_bytes_at_crash = -1;
	double seconds = 0;
	// The first crash line of each boot of the same number that crashed
	// before the guest came up and was booted again (VmSession).
	std::vector<std::string> early_crashes;
};

// Runs QEMU until it exits or a limit of `o` (or boot_timeout_s) stops it.
// The guest's ttyS1, the results archive, is written to results_path, and
// its ttyS2, the per-cell event stream, to stream_path.  A kernel crash on
// the console stops the guest at once (after 3 s for the trace to print).
Boot boot_qemu(const VmOptions &o, const std::string &kernel, const std::string &qemu, const Accelerator &accel,
	       const std::string &initrd, const std::string &results_path, const std::string &stream_path, int boot_timeout_s);

// A sentence for any outcome but Finished.
std::string describe_failure(const Boot &b, const VmOptions &o);

}  // namespace odfb
