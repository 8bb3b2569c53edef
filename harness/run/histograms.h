// A trial's latency histograms (fork, copy_page_range, user faults split by
// what they did) from the probes' maps, and a cell's merge of them with
// quantiles.  A histogram whose probes are not live is absent with the
// reason, never empty.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "run/trial_env.h"

namespace odfb {

// Kind name -> why this cell cannot fill it; the kinds not named are filled.
std::map<std::string, std::string> histograms_missing(const TrialEnv &env);
// {kind: {"root": H, "descendants": H}} (Histogram::to_json) for every kind
// the cell fills; fault_all is the three fault kinds together.
nlohmann::json trial_histograms(const TrialEnv &env);
// The cell's record: {"scheme", "relative_error", "trials", "fault_windows",
// "missing", "kinds": {kind: {role: summary + "buckets"}}}; null when no
// measured trial carries histograms.
nlohmann::json cell_histograms(const nlohmann::json &measured_trials, const nlohmann::json &missing);

}  // namespace odfb
