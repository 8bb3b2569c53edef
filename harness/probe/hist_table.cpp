#include "probe/hist_table.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <bpf/bpf.h>
#include <fmt/format.h>

namespace odfb {

void HistTable::reset() const
{
	auto zero = std::make_unique<odfb_hist>();
	for (__u32 k = 0; k < ODFB_HISTS; ++k)
		if (bpf_map_update_elem(hists_fd_, &k, zero.get(), BPF_ANY) != 0)
			throw std::runtime_error(fmt::format("cannot reset latency histogram {}: {}", k, std::strerror(errno)));
	if (!set_fault_gate(true))
		throw std::runtime_error(fmt::format("cannot open the fault-histogram gate: {}", std::strerror(errno)));
}

bool HistTable::set_fault_gate(bool open) const noexcept
{
	__u32 k = 0, v = open;
	return bpf_map_update_elem(gate_fd_, &k, &v, BPF_ANY) == 0;
}

std::array<Histogram, ODFB_HISTS> HistTable::read() const
{
	std::array<Histogram, ODFB_HISTS> out;
	auto h = std::make_unique<odfb_hist>();
	for (__u32 k = 0; k < ODFB_HISTS; ++k) {
		if (bpf_map_lookup_elem(hists_fd_, &k, h.get()) != 0)
			throw std::runtime_error(fmt::format("cannot read latency histogram {}: {}", k, std::strerror(errno)));
		out[k].count = h->count;
		out[k].sum_ns = h->sum_ns;
		for (__u32 i = 0; i < ODFB_HIST_BUCKETS; ++i)
			if (h->buckets[i])
				out[k].buckets[i] = h->buckets[i];
	}
	return out;
}

}  // namespace odfb
