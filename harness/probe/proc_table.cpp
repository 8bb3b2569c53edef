#include "probe/proc_table.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <bpf/bpf.h>
#include <fmt/format.h>

namespace odfb {

void ProcTable::track(pid_t tgid)
{
	__u32 k = static_cast<__u32>(tgid);
	proc_stats zero{};
	if (tgid <= 0 || bpf_map_update_elem(fd_, &k, &zero, BPF_ANY) != 0)
		throw std::runtime_error(fmt::format("cannot track process {} in the probes' map: {}", tgid,
						     tgid <= 0 ? "not a pid" : std::strerror(errno)));
}

std::optional<proc_stats> ProcTable::read(pid_t tgid) const
{
	__u32 k = static_cast<__u32>(tgid);
	proc_stats v{};
	if (bpf_map_lookup_elem(fd_, &k, &v) != 0)
		return std::nullopt;
	return v;
}

void ProcTable::forget(pid_t tgid)
{
	__u32 k = static_cast<__u32>(tgid);
	bpf_map_delete_elem(fd_, &k);
}

void delete_every_key(int fd, size_t key_size)
{
	std::vector<std::vector<char>> keys;
	std::vector<char> k(key_size), next(key_size);
	for (int rc = bpf_map_get_next_key(fd, nullptr, next.data()); rc == 0;
	     rc = bpf_map_get_next_key(fd, k.data(), next.data())) {
		keys.push_back(next);
		k = next;
	}
	for (auto &key : keys)
		bpf_map_delete_elem(fd, key.data());
}

void ProcTable::clear() { delete_every_key(fd_, sizeof(__u32)); }

size_t ProcTable::size() const
{
	__u32 k, next;
	size_t n = 0;
	__u32 *prev = nullptr;
	while (bpf_map_get_next_key(fd_, prev, &next) == 0) {
		++n;
		k = next;
		prev = &k;
	}
	return n;
}

}  // namespace odfb
