// Experiment specs (bench/*.json, or the run command's flags): parsed and
// validated completely before any work starts; errors name the field.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/cell_list.h"
#include "run/mode.h"

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

// One (workload, size, mode) cell.  `index` numbers the cells of the spec as
// written, before any selection or memory fitting, so it names the same cell
// on every machine and every boot: shards and resumed runs agree on it.
struct Cell {
	size_t index = 0;
	size_t experiment = 0;  // into RunSpec::experiments
	size_t size_index = 0;  // into that experiment's sizes
	uint64_t size = 0;
	Mode mode = Mode::Fork;
	// (experiment, size) in spec order: a workload at one size under every
	// mode, the cells compare sets against each other.  A shard holds whole groups.
	size_t group = 0;
};
std::vector<Cell> expand_cells(const RunSpec &spec);

// `--shard I/N`: the cell groups whose index is I-1 modulo N, so every cell is
// in exactly one of the N shards, each shard mixes the spec's workloads, and
// fork and ODF of one workload and size always run on the same machine (a
// cell-by-cell round robin put every fork cell of a 3-mode spec in shard 1).
struct Shard {
	int index = 1, count = 1;
	std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
};
Shard parse_shard(const std::string &s);  // "I/N", 1 <= I <= N; throws SpecError
// "3,5,9-12" -> indices; throws SpecError.  Every index must be < total.
std::vector<size_t> parse_cell_list(const std::string &s, size_t total);
// The cells a shard and/or an explicit index list select, in spec order.
std::vector<Cell> select_cells(const std::vector<Cell> &all, const std::optional<Shard> &shard,
			       const std::optional<std::vector<size_t>> &only);

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
