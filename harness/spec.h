// Experiment specs (bench/*.json, or the run command's flags): parsed and
// validated completely before any work starts; errors name the field.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mode.h"

namespace odfb {

struct SpecError : std::runtime_error {
	using std::runtime_error::runtime_error;
};

struct Experiment {
	std::string workload;
	std::vector<uint64_t> sizes;
	std::vector<Mode> modes;
	int reps = 10;
	int warmup = 2;
	nlohmann::json params = nlohmann::json::object();
};

struct RunSpec {
	std::string name = "run";
	std::vector<Experiment> experiments;
	std::optional<std::string> output;
	// Drop sizes the memory guard would refuse (with a note) instead of
	// refusing the spec: presets that scale to the machine.
	bool fit_to_memory = false;
	std::vector<std::string> capped;  // what was dropped, and why
	nlohmann::json to_json() const;
};

// One experiment object, or {"name", "output", "experiments": [...]}; fields
// of the top level are defaults for each experiment.
RunSpec parse_spec(const nlohmann::json &j);
RunSpec load_spec_file(const std::string &path);
// A JSON file, or SpecError "<what> <path>: cannot open / not valid JSON: ...".
nlohmann::json read_json_file(const std::string &path, const std::string &what);
// "64M,256M,1G" -> bytes; throws SpecError naming the bad item.
std::vector<uint64_t> parse_size_list(const std::string &csv, const std::string &field);
std::vector<Mode> parse_mode_list(const std::string &csv, const std::string &field);

}  // namespace odfb
