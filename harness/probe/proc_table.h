// The per-process counters the probes keep, read and written through the
// run's `procs` map fd (usable after fork).  Needs libbpf's map calls only,
// not the probe loader.
#pragma once
#include <cstddef>
#include <optional>

#include <sys/types.h>

extern "C" {
#include <linux/types.h>
#include "odfbench.h"
}

namespace odfb {

class ProcTable {
public:
	explicit ProcTable(int fd) : fd_(fd) {}
	bool valid() const { return fd_ >= 0; }
	// Start (or restart) counting this process from zero; throws when the
	// map refuses it (full), so a process is never silently untracked.
	void track(pid_t tgid);
	// The record, or nullopt when the process has none: never zeros.
	std::optional<proc_stats> read(pid_t tgid) const;
	void forget(pid_t tgid);
	void clear();  // every entry: after a workload that forks thousands of children
	size_t size() const;

private:
	int fd_;
};

// Deletes every entry of a BPF hash map whose keys are key_size bytes.
void delete_every_key(int fd, size_t key_size);

}  // namespace odfb
