// Pieces every fork-based workload shares: a prefaulted region, and the
// in-kernel evidence of what one fork did (and whether it really was ODF).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include <sys/types.h>
#include <nlohmann/json.hpp>

#include "trial_env.h"

extern "C" {
#include <linux/types.h>
#include "odfbench.h"
}

namespace odfb {

// Private anonymous memory, prefaulted by touching every page (never
// MAP_POPULATE or mlock: GUP marks ODF tables exclusive, docs/odf-kernels.md §4), with the
// touch spread over every online CPU.
class Region {
public:
	// threads: how many touch it (0: one per online CPU, for 64 MiB and up).
	Region(uint64_t bytes, bool thp, int threads = 0);
	~Region();
	Region(const Region &) = delete;
	Region &operator=(const Region &) = delete;
	char *data() const { return data_; }
	uint64_t bytes() const { return bytes_; }
	uint64_t pages() const { return bytes_ / page_; }
	// What PTE tables map, the bytes whose table sharing ODF evidence judges:
	// none on huge pages.
	uint64_t pte_mapped_bytes() const { return thp_ ? 0 : bytes_; }
	long page_size() const { return page_; }
	// prefault_ns, prefault_bytes_per_s, prefault_threads, thp, vm_pte_kb_after_prefault
	nlohmann::json setup_json() const;

private:
	char *data_ = nullptr;
	uint64_t bytes_ = 0;
	long page_ = 4096;
	bool thp_ = false;
	uint64_t prefault_ns_ = 0;
	int threads_ = 1;
};

// setup.missing_metrics: metric -> why its probe is not attached.
class MissingMetrics {
public:
	explicit MissingMetrics(const TrialEnv &env) : env_(env) {}
	void need(const char *probe, std::initializer_list<const char *> metrics);
	const nlohmann::json &json() const { return missing_; }

private:
	const TrialEnv &env_;
	nlohmann::json missing_ = nlohmann::json::object();
};

// A process's probe record.  A missing record is never read as zeros: the
// caller emits no metric from it, and when the record should exist (the
// process was tracked, or sched_process_fork is live to add a child), the
// trial's "untracked" list names it and the runner warns about the cell.
enum class Record { Tracked, Child };
std::optional<proc_stats> read_record(nlohmann::json &t, const TrialEnv &env, pid_t pid, const char *role,
				      Record how = Record::Tracked);

// From the parent's counters after one fork of `child`: page-table bytes of
// both, tables shared, the ODF flag, and odf_verified (true only when ODF was
// requested and both the flag and the page tables prove it).
// No record (nullptr): not verified.
void record_fork_evidence(nlohmann::json &t, const TrialEnv &env, const proc_stats *parent, pid_t child, uint64_t region_bytes);

// copy_page_range and the ODF table counters of a parent/child pair; a
// metric that needs a missing record (nullptr) is left out.
void record_copy_counters(nlohmann::json &t, const TrialEnv &env, const proc_stats *parent, const proc_stats *child);

}  // namespace odfb
