#include "run/fork_trial.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "run/folio.h"
#include "odf/switch.h"
#include "base/sysinfo.h"

namespace odfb {

Region::Region(uint64_t bytes, bool thp, int threads) : bytes_(bytes), thp_(thp)
{
	page_ = sysconf(_SC_PAGESIZE);
	constexpr uint64_t kAlign = 2ull << 20;
	map_bytes_ = bytes_ + (thp ? kAlign : 0);
	void *p = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		throw std::runtime_error(fmt::format("mmap of {} bytes failed: {}", map_bytes_, std::strerror(errno)));
	map_ = p;
	auto a = reinterpret_cast<uintptr_t>(p);
	data_ = reinterpret_cast<char *>(thp ? (a + kAlign - 1) / kAlign * kAlign : a);
	madvise(data_, bytes_, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	// Threads exit before any fork; on 6.0.6 their clones come before ODF is
	// switched on, so they cannot turn it on early.
	threads_ = static_cast<int>(std::clamp<long>(sysconf(_SC_NPROCESSORS_ONLN), 1, 64));
	if (bytes_ < (64ull << 20))
		threads_ = 1;
	if (threads > 0)
		threads_ = threads;
	uint64_t t0 = now_ns();
	uint64_t chunk = (pages() + threads_ - 1) / threads_ * page_;
	std::vector<std::thread> ts;
	for (int i = 0; i < threads_; ++i)
		ts.emplace_back([this, i, chunk] {
			uint64_t end = std::min(bytes_, (i + 1) * chunk);
			for (uint64_t off = i * chunk; off < end; off += page_)
				data_[off] = 1;
		});
	for (auto &t : ts)
		t.join();
	prefault_ns_ = now_ns() - t0;
}

Region::~Region()
{
	if (map_)
		munmap(map_, map_bytes_);
}

nlohmann::json Region::setup_json() const
{
	return {{"prefault_ns", prefault_ns_},
		{"prefault_bytes_per_s", prefault_ns_ ? static_cast<double>(bytes_) * 1e9 / static_cast<double>(prefault_ns_) : 0.0},
		{"prefault_threads", threads_},
		{"thp", thp_},
		{"vm_pte_kb_after_prefault", proc_status_kb(getpid(), "VmPTE")}};
}

void MissingMetrics::need(const char *probe, std::initializer_list<const char *> metrics)
{
	if (env_.probe(probe))
		return;
	auto it = env_.probe_reason.find(probe);
	for (auto *m : metrics)
		missing_[m] = fmt::format("probe {} not attached: {}", probe, it == env_.probe_reason.end() ? "unknown" : it->second);
}

std::optional<proc_stats> read_record(nlohmann::json &t, const TrialEnv &env, pid_t pid, const char *role, Record how)
{
	auto r = env.procs.read(pid);
	if (!r && (how == Record::Tracked || env.probe("sched_process_fork"))) {
		if (!t.contains("untracked"))
			t["untracked"] = nlohmann::json::array();
		t["untracked"].push_back(fmt::format("{} {}", role, pid));
	}
	if (r && r->unmatched_returns)
		t[fmt::format("{}_unmatched_returns", role)] = r->unmatched_returns;
	return r;
}

void record_fork_evidence(nlohmann::json &t, const TrialEnv &env, const proc_stats *ps, pid_t child, uint64_t region_bytes)
{
	if (!ps || !env.probe("sched_process_fork") || ps->forks != 1 || ps->last_child_tgid != static_cast<__u32>(child)) {
		t["odf_verified"] = false;
		return;
	}
	auto ev = fork_evidence(*env.odf, *ps, region_bytes);
	t["child_pgtables_bytes"] = ps->last_child_pgtables_bytes;
	t["parent_pgtables_bytes"] = ps->last_parent_pgtables_bytes;
	t["child_mm_flags"] = ps->last_child_mm_flags;
	t["tables_shared_est"] = ev.tables_shared_est;
	t["sharing_observed"] = ev.sharing_observed;
	if (ev.flag_known)
		t["odf_flag_in_child"] = ev.flag_in_child;
	// Under four whole 2 MiB tables (a small region, or one on huge pages) the
	// region cannot show sharing: the flag alone is the evidence then, and the
	// trial says so.
	if (!ev.judgeable) {
		t.erase("sharing_observed");
		t["odf_evidence"] = "mm flag only: the region's PTE tables map under 8 MiB (a small region, or huge pages), too few to judge sharing";
	}
	t["odf_verified"] = is_odf_mode(env.mode) && ev.flag_known && ev.flag_in_child && (ev.sharing_observed || !ev.judgeable);
}

void record_folio_evidence(nlohmann::json &t, const TrialEnv &env, const Region &r)
{
	unsigned kb = mode_folio_kb(env.mode);
	auto c = folio_census(r.data(), r.bytes(), kb ? kb : 4);
	t["folio_census"] = c.to_json(kb ? kb : 4);
	if (kb) {
		t["folio_verified"] = c.available && c.exact_fraction() >= 0.5;
		if (c.available)
			t["folio_exact_fraction"] = c.exact_fraction();
	} else if (c.available)
		t["large_folio_pages"] = c.pages_in_large_folio;
}

nlohmann::json folio_setup_evidence(const TrialEnv &env, const Region &r, const std::map<std::string, uint64_t> &before)
{
	unsigned kb = mode_folio_kb(env.mode);
	if (!kb)
		return nullptr;
	return {{"folio_kb", kb},
		{"blocks_in_region", r.bytes() / (kb * 1024ull)},
		{"stats_delta_prefault", folio_stats_delta(before, folio_stats(kb))},
		{"anon_huge_kb", smaps_rollup_kb("AnonHugePages")}};
}

void record_fork_phases(nlohmann::json &t, const TrialEnv &env, const proc_stats &ps)
{
	if (!env.probe("clone_syscall") || ps.clones != 1)
		return;  // the phases are of exactly one process-creating clone
	nlohmann::json in = nlohmann::json::object(), missing = nlohmann::json::object();
	auto piece = [&](const char *name, const char *probe, uint64_t ns) {
		if (env.probe(probe))
			in[name] = ns;
		else
			missing[name] = fmt::format("probe {} not live: {}", probe,
						    env.probe_reason.count(probe) ? env.probe_reason.at(probe) : "unknown");
	};
	piece("dup_mm_ns", "dup_mm", ps.dup_mm_ns);
	piece("anon_vma_fork_ns", "anon_vma_fork", ps.anon_vma_fork_ns);
	piece("pte_alloc_ns", "__pte_alloc", ps.pte_alloc_ns);
	// The paper kernel's tfork copies every VMA through copy_page_range_tfork,
	// which calls copy_page_range itself for VMAs it cannot share.
	if (ps.cpr_tfork_calls)
		piece("copy_page_range_ns", "copy_page_range_tfork", ps.cpr_tfork_ns);
	else
		piece("copy_page_range_ns", "copy_page_range", ps.cpr_ns);

	// Exclusive parts: copy_page_range holds __pte_alloc; dup_mm holds
	// copy_page_range and anon_vma_fork; the clone holds dup_mm.
	auto has = [&](const char *k) { return in.contains(k); };
	auto ns = [&](const char *k) { return static_cast<int64_t>(in[k].get<uint64_t>()); };
	nlohmann::json parts = nlohmann::json::object();
	int64_t inside = 0;
	if (has("copy_page_range_ns")) {
		parts["copy_page_range"] = ns("copy_page_range_ns") - (has("pte_alloc_ns") ? ns("pte_alloc_ns") : 0);
		inside += ns("copy_page_range_ns");
	}
	if (has("pte_alloc_ns"))
		parts["pte_alloc"] = ns("pte_alloc_ns");
	if (has("anon_vma_fork_ns")) {
		parts["anon_vma_fork"] = ns("anon_vma_fork_ns");
		inside += ns("anon_vma_fork_ns");
	}
	if (has("dup_mm_ns") && has("copy_page_range_ns") && has("anon_vma_fork_ns"))
		parts["dup_mm_other"] = ns("dup_mm_ns") - inside;
	int64_t clone = static_cast<int64_t>(ps.clone_ns_total);
	parts["clone_other"] = clone - (has("dup_mm_ns") ? ns("dup_mm_ns") : inside);
	t["fork_phases"] = {{"clone_ns", ps.clone_ns_total}, {"measured", in}, {"parts", parts}, {"missing", missing},
			    {"calls", {{"copy_page_range", ps.cpr_tfork_calls ? ps.cpr_tfork_calls : ps.cpr_calls},
				       {"anon_vma_fork", ps.anon_vma_fork_calls},
				       {"pte_alloc", ps.pte_alloc_calls},
				       {"dup_mm", ps.dup_mm_calls}}}};
}

void record_copy_counters(nlohmann::json &t, const TrialEnv &env, const proc_stats *ps, const proc_stats *cs)
{
	if (!ps)
		return;
	record_fork_phases(t, env, *ps);
	if (env.probe("copy_page_range")) {
		t["copy_page_range_calls"] = ps->cpr_calls;
		t["copy_page_range_ns"] = ps->cpr_ns;
	}
	if (env.probe("copy_page_range_tfork")) {
		t["copy_page_range_tfork_calls"] = ps->cpr_tfork_calls;
		t["copy_page_range_tfork_ns"] = ps->cpr_tfork_ns;
	}
	if (env.probe("copy_pte_range"))
		t["cpte_fork"] = ps->cpte_fork;
	if (!cs)
		return;
	if (env.probe("copy_pte_range"))
		t["cpte_fault"] = ps->cpte_fault + cs->cpte_fault;
	if (env.probe("handle_cow_pte")) {
		t["handle_cow_pte_calls"] = ps->hcp_calls + cs->hcp_calls;
		t["handle_cow_pte_reused"] = ps->hcp_ret1 + cs->hcp_ret1;
	}
	if (env.probe("cow_pte_fallback") && env.probe("fault_latency"))  // its window splits the calls
		t["cow_pte_fallback_fault"] = ps->fallback_fault + cs->fallback_fault;
	if (env.probe("tfork_one_pte_table"))
		t["tfork_table_copies"] = ps->tfork_table_copies + cs->tfork_table_copies;
}

}  // namespace odfb
