// Pieces every fork-based workload shares: a prefaulted region, and the
// in-kernel evidence of what one fork did (and whether it really was ODF).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>

#include <sys/types.h>
#include <nlohmann/json.hpp>

#include "run/trial_env.h"

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
	// thp: MADV_HUGEPAGE and 2 MiB alignment, so whatever folio sizes the THP
	// knobs allow (thp, mthp-* modes) can map it; else MADV_NOHUGEPAGE: 4K pages.
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
	void *map_ = nullptr;
	uint64_t map_bytes_ = 0;
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
// Large-folio evidence of one trial (folio.h): a census of the folios that
// map the region.  For a folio mode (thp, mthp-*), folio_verified is true
// only when at least half the sampled blocks are folios of exactly that
// size; on 4K pages, large_folio_pages counts sampled pages in any large
// folio (0 expected).
void record_folio_evidence(nlohmann::json &t, const TrialEnv &env, const Region &r);
// Setup evidence for a region prefaulted under a folio mode: the size's
// sysfs counters over the prefault (`before` taken just before it) and
// AnonHugePages.  Returns null for other modes.
nlohmann::json folio_setup_evidence(const TrialEnv &env, const Region &r, const std::map<std::string, uint64_t> &before);

// One fork's phases from the parent's counters (bpf/fork_phases.bpf.c):
// t["fork_phases"] = {"clone_ns", "measured": {piece: ns}, "parts": the
// exclusive parts, clone_other the remainder, "missing": {piece: why}, "calls"}.
// Nothing when the record holds anything but exactly one process clone.
void record_fork_phases(nlohmann::json &t, const TrialEnv &env, const proc_stats &parent);
void record_copy_counters(nlohmann::json &t, const TrialEnv &env, const proc_stats *parent, const proc_stats *child);

}  // namespace odfb
