// What `odfbench vm` was asked for; every vm_* module reads it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace odfb {

struct VmOptions {
	std::vector<std::string> kernels;    // bzImage paths or cached variant names; two or more: an A/B
	int boots = 1;                       // per kernel, alternating A, B, A, B, ...
	bool resume = true;                  // after a kernel crash, a fresh boot runs the cells left
	int jobs = 1;                        // check: this many guests at once, the checks dealt among them
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
	std::vector<std::string> with;       // --with PATH[:GUEST]: host files/directories carried read-only
	std::vector<std::string> args;       // the odfbench command to run in the guest
};

}  // namespace odfb
