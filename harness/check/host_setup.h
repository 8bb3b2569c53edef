// Machine-wide state a check needs, set up by odfbench's own process around
// the check (never by the check's sacrificial processes, which may be killed)
// and undone after it: a fast khugepaged, a swap device.  Every change is
// journaled before it is made, so a killed odfbench's leftovers are undone at
// the next `check`.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace odfb {

// What a check may ask for (CheckDef::needs).
inline constexpr const char *kNeedKhugepaged = "khugepaged";  // scan every 10 ms, collapse shared pages too
inline constexpr const char *kNeedSwap = "swap";              // an active swap device (zram, else a loop device on a memfd)

class HostSetup {
public:
	// Sets up every need; on the first that cannot be had, undoes the rest
	// and unavailable() says why.  Throws std::invalid_argument for a need it
	// does not know.
	explicit HostSetup(const std::vector<std::string> &needs);
	~HostSetup();
	HostSetup(const HostSetup &) = delete;
	HostSetup &operator=(const HostSetup &) = delete;

	const std::string &unavailable() const { return unavailable_; }
	const nlohmann::json &json() const { return json_; }  // what was done, for the results
	void undo();

private:
	void khugepaged();
	void swap();
	void journal(nlohmann::json step);  // record how to undo, before doing
	int lock_fd_ = -1;
	nlohmann::json undo_ = nlohmann::json::array();  // applied last to first
	nlohmann::json json_ = nlohmann::json::object();
	std::string unavailable_;
};

// Undoes what a killed odfbench left journaled; "" if there was nothing.
std::string undo_stale_host_setup();

// The journal (ODFBENCH_STATE_DIR, default /run/odfbench).
std::string host_setup_journal_path();

// A swap header (mkswap's, version 1) for a device of `bytes`.
std::vector<char> swap_header(uint64_t bytes, long page_size);

}  // namespace odfb
