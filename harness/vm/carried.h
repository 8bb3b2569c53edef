// What `odfbench vm` needs to know of the command it carries into a guest,
// said by the command itself (cli/carried_commands.cpp), so that vm/ stays
// about guests: which commands load probes, how a command's work divides into
// units (a run's cells, check's checks) that --jobs deals out and a fresh boot
// resumes, how the host prints a merged document, and which host files the
// guest needs.  Units are always named by index with `--cells LIST`.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

struct CarriedFile {
	std::string host;   // a file or directory on the host
	std::string guest;  // its path in the guest (absolute)
};

struct CarriedCommand {
	bool loads_probes = false;   // gets --btf <detached BTF> when the kernel comes with one
	bool several_kernels = false;  // may run on several kernels and over --boots (an A/B)
	// For --jobs: the unit indices the arguments select, dealt round robin
	// among guests.  Empty function: the command cannot be split.  Throws
	// std::invalid_argument on bad arguments.
	std::function<std::vector<size_t>(const std::vector<std::string> &args)> units;
	// How the host shows a document merged from several boots on stdout, and
	// whether it is a failure (exit status 1).  Empty: the merged document is
	// a results file, stored as such.
	std::function<std::string(const nlohmann::json &doc, const std::vector<std::string> &args)> render;
	std::function<bool(const nlohmann::json &doc)> failed;
	// Host files the guest needs besides the command's own input files (e.g.
	// the programs a spec's external experiments run).  Throws
	// std::invalid_argument naming what cannot be carried.
	std::function<std::vector<CarriedFile>(const std::vector<std::string> &args)> carry;
};

void register_carried_command(const std::string &name, CarriedCommand c);
// The registered entry, or a plain one (no probes, no units) for other commands.
const CarriedCommand &carried_command(const std::string &name);

}  // namespace odfb
