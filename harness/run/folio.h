// Large folios as the kernel reports them: the mTHP sysfs knobs and counters
// (/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB), and a census of
// the folios that really map a region (/proc/self/pagemap + /proc/kpageflags,
// root only).  A leaf: it includes nothing of ours.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace odfb {

// The THP sysfs directory; ODFBENCH_THP_SYSFS overrides it (tests).
std::string thp_sysfs_dir();
// Anonymous folio sizes (KiB) this kernel offers: hugepages-<kb>kB with an
// `enabled` knob, ascending (2048 is PMD THP).
std::vector<unsigned> folio_sizes_offered();
// The hugepages-<kb>kB/stats counters (anon_fault_alloc, anon_fault_fallback,
// nr_anon, split, ...); empty if the kernel has none for that size.
std::map<std::string, uint64_t> folio_stats(unsigned kb);
// after - before, per counter.
nlohmann::json folio_stats_delta(const std::map<std::string, uint64_t> &before,
				 const std::map<std::string, uint64_t> &after);

// What maps [p, p+bytes): up to max_blocks evenly spaced, naturally aligned
// blocks of `kb` KiB are examined page by page.  A block is "exact" when one
// folio of exactly kb covers it (kb 4: the page is in no large folio).
struct FolioCensus {
	bool available = false;  // pagemap gave PFNs and kpageflags was readable (root)
	std::string why;         // when not
	uint64_t blocks_sampled = 0, blocks_exact = 0;
	uint64_t pages_sampled = 0, pages_in_large_folio = 0;
	double exact_fraction() const { return blocks_sampled ? double(blocks_exact) / double(blocks_sampled) : 0.0; }
	nlohmann::json to_json(unsigned kb) const;
};
FolioCensus folio_census(const void *p, uint64_t bytes, unsigned kb, uint64_t max_blocks = 512);

// The AnonHugePages (PMD THP) field of /proc/self/smaps_rollup in kB; -1 if absent.
int64_t smaps_rollup_kb(const std::string &field);

}  // namespace odfb
