// odfbench: the command line.  Each subcommand lives in cli/, one file each.
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "base/version.h"
#include "cli.h"
#include "odf/detect.h"
#include "odf/switch.h"
#include "run/strategy.h"
#include "odf/tfork_guard.h"

using namespace odfb;

// `odfbench __odf-probe`: exec'd by the odf-interface checks.  Prints this
// process's use_odf before and after one fork; switches nothing itself.
int odf_probe()
{
	std::string before = read_use_odf(getpid());
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, nullptr, 0);
	fmt::print("before={} after={}\n", before.empty() ? "absent" : before, read_use_odf(getpid()));
	return 0;
}

int main(int argc, char **argv)
{
	// First, before anything can call faccessat(): see tfork_guard.h.
	if (struct stat st; stat("/proc/self/use_odf", &st) == 0) {
		try {
			install_tfork_guard(detect_odf());
		} catch (const std::exception &e) {
			cli::die(e.what(), 1);
		}
	}
	if (argc == 2 && std::string(argv[1]) == "__odf-probe")
		return odf_probe();
	set_protected_pid(getpid());
	// A run that died with the THP/mTHP knobs changed for a cell: put them back.
	if (auto what = restore_stale_folio_setting(); !what.empty())
		fmt::print(stderr, "odfbench: {}\n", what);
	CLI::App app{"odfbench: eBPF-instrumented evaluation of On-Demand-Fork (EuroSys'21)"};
	app.require_subcommand(1);
	app.set_version_flag("--version", tool_version());

	// The one subcommand given runs as its callback, inside app.parse().
	int exit_code = 0;
	cli::add_doctor_command(app, exit_code);
	cli::add_list_command(app, exit_code);
	cli::add_run_command(app, exit_code);
	cli::add_check_command(app, exit_code);
	cli::add_compare_command(app, exit_code);
	cli::add_overhead_command(app, exit_code);
	cli::add_vm_command(app, exit_code);
	cli::add_kernel_command(app, exit_code);
	cli::add_report_command(app, exit_code);

	try {
		app.parse(argc, argv);
	} catch (const CLI::CallForHelp &e) {
		return app.exit(e);
	} catch (const CLI::CallForVersion &e) {
		return app.exit(e);
	} catch (const CLI::ParseError &e) {
		cli::die(e.what());
	}
	return exit_code;
}
