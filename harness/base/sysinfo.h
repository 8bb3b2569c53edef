// Facts about the host that every result is stamped with.
#pragma once
#include <cstdint>
#include <string>
#include <sys/types.h>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

std::string kernel_release();
std::string thp_mode();  // the bracketed word of transparent_hugepage/enabled, or "unavailable"
bool kernel_btf_present();
// MemAvailable from /proc/meminfo, in bytes (0 if unreadable).
uint64_t mem_available_bytes(const std::string &meminfo = "/proc/meminfo");
// The memory guard's limit: a cell (or a guest) may take this fraction of MemAvailable.
inline constexpr double kMemFraction = 0.8;
// Why `need` bytes may not be allocated now ("" if they may): more than
// `fraction` of MemAvailable.
std::string memory_guard(uint64_t need, double fraction = kMemFraction);
// A /proc/<pid>/status field in kB, e.g. "VmPTE"; -1 if absent.
int64_t proc_status_kb(int pid, const std::string &field);
// VMAs in /proc/<pid>/maps, without the [vsyscall] gate page (not in the mm's
// VMA list, so fork never copies it); -1 if unreadable.  Allocates nothing,
// so the count stays right for a fork that follows.
int count_vmas(int pid);
// The parent of `pid` from /proc/<pid>/stat; -1 if gone.
pid_t parent_pid(pid_t pid);
// A child of `parent` (the oldest): /proc/<parent>/task/<parent>/children
// where the kernel has it (CONFIG_PROC_CHILDREN), else a scan of /proc for
// a process whose parent it is; -1 if none.
pid_t first_child(pid_t parent);
bool have_bpf_privileges(std::string &why);

// The pid namespace odfbench runs in (a container's, or the initial one).  The
// probes key processes by tgid as this namespace numbers them, so what they
// count matches getpid(); /proc must number them the same way.
struct PidNamespace {
	uint64_t inode = 0;         // of /proc/self/ns/pid
	uint64_t device = 0;        // its nsfs device, as stat() gives it
	bool initial = true;        // the kernel's initial pid namespace
	pid_t proc_self = 0;        // what /proc/self resolves to
	bool proc_matches() const;  // /proc/self is getpid(): /proc is this namespace's
};
PidNamespace pid_namespace();
nlohmann::json host_json();
// Inside an `odfbench vm` guest, what the host said about the VM (the file
// named by ODFBENCH_VM_INFO: accelerator, QEMU, memory, image); null on a
// bare kernel.  Every results file records it as environment.vm.
nlohmann::json vm_environment();
// The path of an executable: `prog` itself if it has a slash, else the first
// match on $PATH, /usr/sbin or /sbin; "" if none.
std::string find_program(const std::string &prog);
// The last max_chars of a text file ("..." before them when cut), trailing
// whitespace dropped; "" if it is empty or unreadable.  For error messages.
std::string file_tail(const std::string &path, size_t max_chars);
uint64_t now_ns();            // CLOCK_MONOTONIC
std::string utc_timestamp();  // ISO 8601

}  // namespace odfb
