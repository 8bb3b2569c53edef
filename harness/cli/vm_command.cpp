// odfbench vm: any odfbench command under another kernel, in a QEMU guest.
#include <memory>
#include <stdexcept>

#include "cli.h"
#include "base/sizes.h"
#include "vm/vm.h"

namespace odfb::cli {

void add_vm_command(CLI::App &app, int &exit_code)
{
	struct VmArgs {
		VmOptions vmo;
		std::string mem = "4G";  // a size string, parsed (and checked) by the callback
	};
	auto a = std::make_shared<VmArgs>();
	VmOptions &vmo = a->vmo;
	auto *sub = app.add_subcommand("vm", "Run an odfbench command under a kernel image in a QEMU guest");
	sub->add_option("--kernel", vmo.kernels,
			"Kernel image (bzImage / vmlinuz) or a cached variant (odfbench kernel list); give two or more for an A/B")
		->required()
		->allow_extra_args(false);  // one value per --kernel, so a following `--` still ends the options
	sub->add_option("--boots", vmo.boots, "Boots per kernel, alternating A, B, A, B, ... (run only)")->capture_default_str();
	sub->add_option("--jobs", vmo.jobs, "check: this many guests at once, the checks dealt among them")->capture_default_str();
	sub->add_flag("--no-resume", [&vmo](int64_t) { vmo.resume = false; },
		      "After a kernel crash, do not boot a fresh guest for the cells left");
	sub->add_option("--mem", a->mem, "Guest memory")->capture_default_str();
	sub->add_option("--smp", vmo.smp, "Guest CPUs")->capture_default_str();
	sub->add_option("--timeout", vmo.timeout_s, "Hard limit in seconds; QEMU is killed after it")->capture_default_str();
	sub->add_option("--boot-timeout", vmo.boot_timeout_s, "Seconds until the guest's init must speak")->capture_default_str();
	sub->add_option("--silence", vmo.silence_s, "Seconds without console output that count as a hung guest")->capture_default_str();
	sub->add_option("--accel", vmo.accel, "auto, kvm or tcg")->capture_default_str();
	sub->add_option("--qemu", vmo.qemu, "QEMU binary")->capture_default_str();
	sub->add_option("--busybox", vmo.busybox, "Statically linked busybox for the guest")->capture_default_str();
	sub->add_option("--results-dir", vmo.results_dir, "Where the guest's results land on the host")->capture_default_str();
	sub->add_option("--append", vmo.append, "Extra kernel command line");
	sub->add_option("--with", vmo.with,
			"PATH[:GUEST]: carry a host file or directory into the guest (at GUEST, default the same path); "
			"a dynamically linked program comes with its libraries and loader. Repeatable")
		->allow_extra_args(false);
	sub->add_flag("--hide-btf", vmo.hide_btf, "Hide /sys/kernel/btf in the guest, to see how a kernel without BTF behaves");
	sub->add_option("command", vmo.args, "The odfbench command to run in the guest, after --");
	sub->callback([a, &exit_code] {
		// Bad options (std::invalid_argument) exit 2, any other failure 3.
		try {
			a->vmo.mem_bytes = parse_size(a->mem);
			exit_code = run_vm(a->vmo);
		} catch (const std::invalid_argument &e) {
			die(fmt::format("vm: {}", e.what()));
		} catch (const std::exception &e) {
			die(fmt::format("vm: {}", e.what()), 3);
		}
	});
}

}  // namespace odfb::cli
