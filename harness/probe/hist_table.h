// The per-trial latency histograms the probes keep (bpf/odfbench.h), read and
// reset through the run's map fds, which a forked runner inherits.
#pragma once
#include <array>

#include "base/histogram.h"

extern "C" {
#include <linux/types.h>
#include "odfbench.h"
}

namespace odfb {

class HistTable {
public:
	HistTable(int hists_fd, int gate_fd) : hists_fd_(hists_fd), gate_fd_(gate_fd) {}
	bool valid() const { return hists_fd_ >= 0 && gate_fd_ >= 0; }
	// Every histogram to zero and the fault gate open: the start of a trial.
	void reset() const;
	// Whether fault latencies are recorded now (a workload narrows the
	// window to the accesses it measures).  False when the map refused; never
	// throws, since a forked child calls it.
	bool set_fault_gate(bool open) const noexcept;
	// Indexed kind * ODFB_HIST_ROLES + role.
	std::array<Histogram, ODFB_HISTS> read() const;

private:
	int hists_fd_, gate_fd_;
};

}  // namespace odfb
