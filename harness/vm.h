// `odfbench vm`: runs odfbench itself under a given kernel image in a QEMU
// guest, so an ODF kernel can be evaluated without rebooting the host.
//
// The guest boots a generated initramfs (this static binary, busybox-static,
// input files, an /init script).  Its console (ttyS0) streams to the user;
// the command's stdout, exit code and results come back as a cpio archive on
// a second serial port (ttyS1), which every distribution kernel has built in.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

struct VmOptions {
	std::string kernel;                  // bzImage
	uint64_t mem_bytes = 4ull << 30;
	int smp = 2;
	int timeout_s = 1800;                // hard limit for the whole VM
	int boot_timeout_s = 180;            // until the guest's init speaks
	int silence_s = 90;                  // no console output at all (init sends a heartbeat every 10 s)
	std::string accel = "auto";          // auto | kvm | tcg
	std::string qemu = "qemu-system-x86_64";
	std::string busybox = "/bin/busybox";
	std::string results_dir = "results";
	std::string append;                  // extra kernel command line
	bool hide_btf = false;               // mount over /sys/kernel/btf: test the no-BTF paths
	std::vector<std::string> args;       // the odfbench command to run in the guest
};

struct Accelerator {
	std::string name;    // "kvm" or "tcg"
	std::string reason;  // why
};

// kvm only if /dev/kvm answers KVM_GET_API_VERSION and the CPU has vmx/svm:
// a paravirtual /dev/kvm without them cannot run a stock guest kernel.
Accelerator choose_accelerator(const std::string &requested, const std::string &cpuinfo = "/proc/cpuinfo");

// True if the ELF file has no PT_INTERP (needs no dynamic loader).
bool elf_is_static(const std::string &path, std::string &why);

// The guest's /init: mounts, runs the command, ships results on ttyS1.
// deadline_s: the guest sends the command SIGTERM after this long.
std::string guest_init_script(const std::vector<std::string> &args, int deadline_s);

// Validates options (throws std::invalid_argument naming the problem), boots,
// streams, collects.  Returns the guest command's exit code, or 3 when the VM
// itself failed (panic, timeout, silent guest, no results).
int run_vm(VmOptions opts);

// What the guest's results record as environment.vm: the file named by
// ODFBENCH_VM_INFO, or null on a bare kernel.
nlohmann::json vm_environment();

}  // namespace odfb
