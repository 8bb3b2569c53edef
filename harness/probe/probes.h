// The BPF probes: choose a mechanism per probe at run time (fentry, then
// kprobe; tp_btf, then raw_tp), attach what the kernel allows, and say why
// for everything else.  A missing optional probe never fails a run.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>
#include <nlohmann/json.hpp>

#include "odf/detect.h"
#include "probe/table.h"  // kPerFaultProbes

extern "C" {
#include <linux/types.h>
#include "odfbench.h"
}

namespace odfb {

struct ProbeStatus {
	std::string name;
	std::string concern;     // the .bpf.c object it lives in
	std::string mechanism;   // fentry | kprobe | tp_btf | tracepoint | none
	std::string program_type;  // fentry/fexit, kprobe/kretprobe, tp_btf, raw_tp
	bool attached = false;
	std::string reason;      // why not attached, or a note
	nlohmann::json to_json() const;
};

struct ProbeOptions {
	bool verbose = false;        // print libbpf's own log
	bool allow_fentry = true;    // tests force the fallbacks with these
	bool allow_kprobe = true;
	bool allow_tp_btf = true;
	std::string btf_path;        // BTF for CO-RE on a kernel without /sys/kernel/btf/vmlinux
};

class Probes {
public:
	// Loads and attaches every probe this kernel supports.  Never throws for a
	// probe that cannot attach; throws std::runtime_error only when the shared
	// maps cannot be created (no BPF at all).
	static std::unique_ptr<Probes> open(const OdfInfo &odf, const ProbeOptions &opts = {});
	~Probes();

	const std::vector<ProbeStatus> &report() const { return report_; }
	nlohmann::json report_json() const;
	nlohmann::json capabilities_json() const;
	bool attached(const std::string &name) const;
	// Remove every link, or restore them, with the programs kept loaded: the
	// overhead measurement's A/B switch.
	void detach();
	void reattach();
	// The same for one probe (by name); a probe that never attached stays off.
	void set_live(const std::string &probe, bool on);
	bool live(const std::string &probe) const;
	// In-kernel run counts and run time of every attached program, which the
	// kernel keeps only while someone holds a BPF_STATS_RUN_TIME fd.
	struct ProgramStats {
		std::string program;
		uint64_t run_cnt = 0, run_time_ns = 0;
	};
	std::vector<ProgramStats> program_stats() const;
	// Empties the tracked-process and in-flight maps: between cells, so no
	// record of one cell's processes (or a reused pid) reaches the next.
	void reset_tables();
	// The shared tracked-process map; a forked runner inherits it.
	int procs_fd() const { return procs_fd_; }
	// The per-trial latency histograms and their fault gate (probe/hist_table.h).
	int hists_fd() const { return hists_fd_; }
	int fault_gate_fd() const { return gate_fd_; }

	struct Impl;

private:
	Probes() = default;
	std::vector<ProbeStatus> report_;
	nlohmann::json caps_ = nlohmann::json::object();
	int procs_fd_ = -1, inflight_fd_ = -1, hists_fd_ = -1, gate_fd_ = -1;
	std::unique_ptr<Impl> impl_;
};

}  // namespace odfb
