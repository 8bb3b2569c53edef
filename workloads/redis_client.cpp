// The rate ramp of redis_client.h.
#include "redis_client.h"

#include <memory>

#include "run/open_loop.h"

namespace odfb {

nlohmann::json rate_ramp(const std::string &socket, uint64_t keys, double write_fraction, unsigned connections,
			 const std::vector<double> &rates, int probe_ms, uint64_t limit_ns)
{
	nlohmann::json steps = nlohmann::json::array();
	for (double rate : rates) {
		OpenLoopConfig cfg;
		cfg.rate_per_s = rate;
		cfg.connections = connections;
		OpenLoop load(cfg, [&](unsigned c) {
			auto lc = std::make_shared<LoadConn>(socket, keys, write_fraction, 1000 + c);
			lc->connect();
			return OpenLoop::Request([lc] { return lc->request(); });
		});
		uint64_t t0 = load.start();
		load.stop(t0 + static_cast<uint64_t>(probe_ms) * 1'000'000ull);
		uint64_t p90 = lag_quantile(load.samples(), 0.9, [](const OpenLoopSample &) { return true; });
		bool carried = load.totals().failed == 0 && load.problems().empty() && p90 <= limit_ns;
		steps.push_back({rate, p90, carried});
		if (carried)
			break;
	}
	return steps;
}

}  // namespace odfb
