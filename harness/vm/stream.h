// The per-cell result stream of `odfbench vm`: the guest's `run` writes each
// event (header, cell-start, cell, finish) as a line on a serial port as it
// happens, so a kernel that crashes or wedges in one cell loses that cell
// only.  Here: reading what arrived, and merging the boots of one evaluation
// (resumed after a crash, or alternating kernels for an A/B) into one
// results document.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace odfb {

struct StreamedRun {
	nlohmann::json header;            // the guest's results document before any cell; null if none arrived
	std::string output;               // the guest's results file name
	std::vector<nlohmann::json> planned;  // {cell, workload, size, mode} this boot was to run
	std::map<size_t, nlohmann::json> results;  // finished cells, by cell index
	std::optional<size_t> running;    // started, no result: the cell the boot died in
	std::string running_mode;         // and, for a check, the mode it was in
	double running_since = -1;        // guest clock (s since boot) when it started
	std::optional<size_t> last_done;  // the cell finished before it, and when
	double last_done_at = -1;
	nlohmann::json finish;            // {finished, wall_ns, status}; null if the command never finished
};
// Tolerant of a torn last line (the guest died mid-write) and of noise.
StreamedRun parse_stream(const std::string &text);

// The printk timestamp of a console line ("[   69.678890] BUG: ..."), or -1.
double console_time(const std::string &line);

// How one boot ended, as the host saw it.
struct BootRecord {
	int boot = 0;
	std::string kernel;     // its label (variant name or image path)
	std::string outcome;    // "finished", "kernel-crash", "timeout", "silent", ...
	std::string detail;     // a sentence
	std::vector<std::string> console;  // the crash excerpt
	double seconds = 0;
	nlohmann::json vm;      // environment.vm of that boot
	std::vector<std::string> early_crashes;  // boots of this number that crashed before the guest came up
};

// Cells the boots have not accounted for (neither finished nor crashed in),
// from the first boot's plan.
std::vector<size_t> remaining_cells(const std::vector<StreamedRun> &boots, const std::vector<BootRecord> &records);

// One results document from the boots of one kernel: each result tagged with
// its boot, a cell a kernel crashed in recorded as status "kernel-crash" with
// the console excerpt, cells never reached as errors saying why.
nlohmann::json merge_boots(const std::vector<StreamedRun> &boots, const std::vector<BootRecord> &records, bool interrupted);

// The same for `check`: one check document, each check tagged with its boot;
// the check a kernel crashed in gets "kernel-crash" for the mode it was in,
// with the console lines, and keeps the verdicts of the modes before.
nlohmann::json merge_check_boots(const std::vector<StreamedRun> &boots, const std::vector<BootRecord> &records, bool interrupted);

// Kernel A/B: one document from per-kernel merged documents (each from
// merge_boots, in the order of --kernel).  Each cell's trials are pooled with
// their boot, the boot medians of the headline metric kept, and run.ab says
// which kernels in which order.
nlohmann::json merge_ab(const std::vector<std::pair<std::string, nlohmann::json>> &per_kernel);

}  // namespace odfb
