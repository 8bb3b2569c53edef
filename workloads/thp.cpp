// thp: the fork-latency sweep with the region on 2 MiB pages (MADV_HUGEPAGE).
// ODF shares PTE tables; a THP region has none, so its gain should vanish.

#include <fmt/format.h>

#include "run/folio.h"
#include "run/workload.h"

namespace odfb {
namespace {

class Thp final : public Workload {
public:
	std::string description() const override { return "fork-latency with the region on transparent huge pages"; }
	std::vector<Metric> metrics() const override { return inner().metrics(); }
	void validate(const Params &p) const override
	{
		if (!p.extra.empty())
			throw std::invalid_argument(fmt::format("params: thp takes none (got {})", p.extra.dump()));
	}
	nlohmann::json setup(TrialEnv &env, const Params &p) override
	{
		auto j = inner().setup(env, with_thp(p));
		// Read before ODF is switched on: smaps of an ODF process is a
		// confirmed hazard (docs/odf-kernels.md §4).
		j["anon_huge_kb"] = smaps_rollup_kb("AnonHugePages");
		return j;
	}
	// The ODF evidence of a THP region is the mm flag alone (Region reports
	// no PTE-mapped bytes), decided in record_fork_evidence.
	nlohmann::json trial(TrialEnv &env, const Params &p) override { return inner().trial(env, with_thp(p)); }

private:
	static Params with_thp(Params p)
	{
		p.extra["thp"] = true;
		return p;
	}
	// fork-latency does the work; made on first use, never during static
	// initialization (its registration may not have run yet then).
	Workload &inner() const
	{
		if (!inner_)
			inner_ = make_workload("fork-latency");
		return *inner_;
	}
	mutable std::unique_ptr<Workload> inner_;
};

}  // namespace
}  // namespace odfb

using odfb::Thp;
ODFBENCH_WORKLOAD("thp", Thp)
