// The command line, one file per subcommand.  Each add_*_command registers
// its subcommand with a callback that CLI11 runs inside app.parse(), once
// every option is parsed and checked; the callback sets main's exit code.
#pragma once
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "probe/probes.h"

namespace odfb::cli {

// 2 is bad input; failures once work started pass their own code.
[[noreturn]] inline void die(const std::string &msg, int code = 2)
{
	fmt::print(stderr, "odfbench: error: {}\n", msg);
	std::exit(code);
}

// The value after `flag` in a command's own arguments, or "": how a command
// reads its arguments back when `odfbench vm` asks how to split them.
inline std::string arg_value(const std::vector<std::string> &args, const std::string &flag)
{
	for (size_t i = 0; i + 1 < args.size(); ++i)
		if (args[i] == flag)
			return args[i + 1];
	return "";
}

// The probe switches doctor and run share.
struct ProbeFlags {
	bool verbose = false, no_fentry = false, no_kprobe = false, no_tp_btf = false;
	std::string btf;
	ProbeOptions options() const { return {verbose, !no_fentry, !no_kprobe, !no_tp_btf, btf}; }
	void add(CLI::App *app)
	{
		app->add_flag("-v,--verbose", verbose, "Print libbpf's log");
		app->add_flag("--no-fentry", no_fentry, "Do not use fentry/fexit (test the kprobe fallback)");
		app->add_flag("--no-kprobe", no_kprobe, "Do not use kprobes");
		app->add_flag("--no-tp-btf", no_tp_btf, "Do not use tp_btf (test the raw_tp fallback)");
		app->add_option("--btf", btf, "BTF of the running kernel for CO-RE, when it has no /sys/kernel/btf/vmlinux "
					      "(e.g. made with `pahole --btf_encode_detached` from its vmlinux)");
	}
};

// In the order `odfbench --help` lists them.
void add_doctor_command(CLI::App &app, int &exit_code);
void add_list_command(CLI::App &app, int &exit_code);
void add_run_command(CLI::App &app, int &exit_code);
void add_check_command(CLI::App &app, int &exit_code);
void add_compare_command(CLI::App &app, int &exit_code);
void add_overhead_command(CLI::App &app, int &exit_code);
void add_vm_command(CLI::App &app, int &exit_code);
void add_kernel_command(CLI::App &app, int &exit_code);
void add_report_command(CLI::App &app, int &exit_code);

}  // namespace odfb::cli
