// The guest side of `odfbench vm`: how the command's paths look inside the
// guest, and the /init that runs it there.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace odfb {

struct GuestPlan {
	std::vector<std::string> args;                             // as the guest sees them
	std::vector<std::pair<std::string, std::string>> inputs;   // guest path, host path
	std::vector<std::pair<std::string, std::string>> outputs;  // guest results/ name, host path
	std::vector<std::pair<std::string, std::string>> carried;  // guest path, host path (files, dirs, programs)
};

// Input files go into the initramfs; -o targets are written in the guest's
// results/ and copied back afterwards.  Throws std::invalid_argument if a
// target exists or its directory is not writable: better before the boot.
GuestPlan plan_guest(const std::vector<std::string> &args);

// Adds what must be carried (the command's carry hook, --with PATH[:GUEST])
// to the plan: host paths must exist and guest paths be absolute.  Throws
// std::invalid_argument naming the first that is not.
void plan_carried(GuestPlan &plan, const std::vector<std::pair<std::string, std::string>> &files,
		  const std::vector<std::string> &with);

// The guest's /init: mounts, runs the command, ships results on ttyS1.
// deadline_s: the guest sends the command SIGTERM after this long.
std::string guest_init_script(const std::vector<std::string> &args, int deadline_s);

// One word for sh, whatever it contains.
std::string shell_quote(const std::string &s);

}  // namespace odfb
