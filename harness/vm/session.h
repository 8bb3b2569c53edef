// One `odfbench vm` guest slot: boots a kernel with a planned guest until
// the carried command's units are all done or crashed, resuming in a fresh
// boot after a kernel crash when allowed, and gathers what every boot
// streamed.  vm/vm.cpp decides what runs where; this runs it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernel/cache.h"
#include "vm/guest.h"
#include "vm/options.h"
#include "vm/stream.h"

namespace odfb {

struct Slot {
	std::vector<StreamedRun> runs;
	std::vector<BootRecord> records;
	nlohmann::json merged;  // null when the command streamed nothing
	bool check = false;     // merged is a check document
	int rc = 3;             // the exit code when nothing was streamed
};

class VmSession {
public:
	// Boot numbers start at first_boot (--jobs slots get disjoint ranges).
	VmSession(VmOptions o, std::string qemu, int first_boot = 0);
	~VmSession();
	// Boots `k` until the command's cells are all done or crashed (resuming
	// after kernel crashes when allowed), or anything else stops it.
	Slot run_slot(const std::string &label, const KernelChoice &k, const std::vector<std::string> &base_args, const GuestPlan &plan0);

private:
	struct Impl;
	std::unique_ptr<Impl> impl_;
};

// The command with `--cells LIST` in place of any the user gave: how a
// resumed boot runs what is left and a --jobs slot its share.
std::vector<std::string> with_cells(std::vector<std::string> args, const std::vector<size_t> &cells);

// Creates path (and its directory); never overwrites: std::runtime_error if it exists.
void write_file_exclusive(const std::string &path, const std::string &data);

}  // namespace odfb
