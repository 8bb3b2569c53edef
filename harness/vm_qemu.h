// QEMU for `odfbench vm`: which accelerator, and one boot of the guest with
// its console streamed to the user and the way it ended told apart.
#pragma once
#include <deque>
#include <string>

namespace odfb {

struct VmOptions;

struct Accelerator {
	std::string name;    // "kvm" or "tcg"
	std::string reason;  // why
};

// kvm only if /dev/kvm answers KVM_GET_API_VERSION and the CPU has vmx/svm:
// a paravirtual /dev/kvm without them cannot run a stock guest kernel.
Accelerator choose_accelerator(const std::string &requested, const std::string &cpuinfo = "/proc/cpuinfo");

enum class BootOutcome { Finished, Panic, Timeout, BootTimeout, Silent, Interrupted, QemuFailed };

struct Boot {
	BootOutcome outcome = BootOutcome::QemuFailed;
	bool booted = false;
	int qemu_status = 0;
	std::deque<std::string> tail;  // last console lines
	double seconds = 0;
};

// Runs QEMU until it exits or a limit of `o` (or boot_timeout_s) stops it.
// The guest's ttyS1, the results archive, is written to results_path.
Boot boot_qemu(const VmOptions &o, const std::string &qemu, const Accelerator &accel, const std::string &initrd,
	       const std::string &results_path, int boot_timeout_s);

// A sentence for any outcome but Finished.
std::string describe_failure(const Boot &b, const VmOptions &o);

}  // namespace odfb
