// The host's side of a cell's strategy, in odfbench's main process: whether
// the kernel offers it, the THP/mTHP sysfs knobs set for the cell only (and
// restored, even after a run that died), and the rule that a trial which
// asked for a folio size but shows none is an error, not a result.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "run/mode.h"

namespace odfb {

// "" when the running kernel offers `m` (ODF modes are judged by odf_detect,
// not here); else why not.
std::string strategy_unavailable(Mode m);

// For a folio mode: saves every THP `enabled` knob to a state file, then
// leaves only the mode's size on ("madvise": only regions that ask, as the
// workloads' do, get it) and every other size off; the destructor restores
// the saved values and removes the file.  Nothing for other modes.  A lock
// (fcntl, held by this process only, so the cell's children never hold it)
// serializes concurrent runs.  Throws std::runtime_error when it cannot.
class FolioSetting {
public:
	explicit FolioSetting(Mode m);
	~FolioSetting();
	FolioSetting(const FolioSetting &) = delete;
	FolioSetting &operator=(const FolioSetting &) = delete;
	const nlohmann::json &json() const { return json_; }  // null when nothing was set

private:
	void restore();
	int lock_fd_ = -1;
	nlohmann::json saved_;  // knob path -> its value before
	nlohmann::json json_;
};

// At every odfbench start: if a previous run died with knobs set (the state
// file exists and no live odfbench holds the lock), put them back.  Returns
// what it did ("" if nothing).
std::string restore_stale_folio_setting();

// The state file (ODFBENCH_STATE_DIR, default /run/odfbench).
std::string folio_state_path();

// After a cell: every measured trial of a folio mode must carry
// folio_verified; a cell where one does not is an error.  Adds folio_verified_trials.
void judge_folio_trials(nlohmann::json &r, Mode m);

}  // namespace odfb
