#include "run/folio.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <fmt/format.h>

namespace odfb {

namespace {
constexpr uint64_t kPagemapPresent = 1ull << 63;
constexpr uint64_t kPfnMask = (1ull << 55) - 1;
constexpr int kKpfCompoundHead = 15, kKpfCompoundTail = 16, kKpfThp = 22;

bool pread_all(int fd, void *buf, size_t n, off_t off)
{
	auto *b = static_cast<char *>(buf);
	while (n) {
		ssize_t r = pread(fd, b, n, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		b += r;
		n -= static_cast<size_t>(r);
		off += r;
	}
	return true;
}
}  // namespace

std::string thp_sysfs_dir()
{
	const char *e = getenv("ODFBENCH_THP_SYSFS");
	return e && *e ? e : "/sys/kernel/mm/transparent_hugepage";
}

std::vector<unsigned> folio_sizes_offered()
{
	std::vector<unsigned> v;
	std::error_code ec;
	for (const auto &d : std::filesystem::directory_iterator(thp_sysfs_dir(), ec)) {
		std::string n = d.path().filename();
		unsigned kb = 0;
		if (sscanf(n.c_str(), "hugepages-%ukB", &kb) == 1 && std::filesystem::exists(d.path() / "enabled"))
			v.push_back(kb);
	}
	std::sort(v.begin(), v.end());
	return v;
}

std::map<std::string, uint64_t> folio_stats(unsigned kb)
{
	std::map<std::string, uint64_t> m;
	std::error_code ec;
	auto dir = std::filesystem::path(thp_sysfs_dir()) / fmt::format("hugepages-{}kB", kb) / "stats";
	for (const auto &f : std::filesystem::directory_iterator(dir, ec)) {
		std::ifstream in(f.path());
		uint64_t v = 0;
		if (in >> v)
			m[f.path().filename()] = v;
	}
	return m;
}

nlohmann::json folio_stats_delta(const std::map<std::string, uint64_t> &before, const std::map<std::string, uint64_t> &after)
{
	nlohmann::json j = nlohmann::json::object();
	for (const auto &[k, v] : after)
		if (auto it = before.find(k); it != before.end())
			j[k] = static_cast<int64_t>(v) - static_cast<int64_t>(it->second);
	return j;
}

nlohmann::json FolioCensus::to_json(unsigned kb) const
{
	if (!available)
		return {{"available", false}, {"why", why}, {"folio_kb", kb}};
	return {{"available", true},         {"folio_kb", kb},
		{"blocks_sampled", blocks_sampled}, {"blocks_exact", blocks_exact},
		{"pages_sampled", pages_sampled},   {"pages_in_large_folio", pages_in_large_folio}};
}

FolioCensus folio_census(const void *p, uint64_t bytes, unsigned kb, uint64_t max_blocks)
{
	FolioCensus c;
	const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
	const uint64_t block = std::max<uint64_t>(kb * 1024ull, page), n = block / page;
	auto base = reinterpret_cast<uint64_t>(p);
	uint64_t first = (base + block - 1) / block * block, end = (base + bytes) / block * block;
	if (end <= first) {
		c.why = fmt::format("the region holds no whole {} KiB block", kb);
		return c;
	}
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (pm < 0 || kf < 0) {
		c.why = fmt::format("cannot open {}: {}", pm < 0 ? "/proc/self/pagemap" : "/proc/kpageflags", std::strerror(errno));
		if (pm >= 0)
			close(pm);
		if (kf >= 0)
			close(kf);
		return c;
	}
	uint64_t blocks = (end - first) / block, stride = std::max<uint64_t>(1, blocks / std::max<uint64_t>(1, max_blocks));
	std::vector<uint64_t> ent(n), flags(n + 1);
	bool ok = true;
	for (uint64_t b = 0; b < blocks && ok; b += stride) {
		uint64_t va = first + b * block;
		if (!pread_all(pm, ent.data(), n * 8, static_cast<off_t>(va / page * 8))) {
			ok = false;
			c.why = "pagemap read failed";
			break;
		}
		c.blocks_sampled++;
		bool present = true, contiguous = true;
		for (uint64_t i = 0; i < n; ++i) {
			present &= (ent[i] & kPagemapPresent) != 0;
			contiguous &= (ent[i] & kPfnMask) == (ent[0] & kPfnMask) + i;
		}
		uint64_t pfn0 = ent[0] & kPfnMask;
		if (present && pfn0 == 0) {
			ok = false;
			c.why = "pagemap shows no PFNs (needs CAP_SYS_ADMIN)";
			break;
		}
		if (present && contiguous) {
			// One read of the block's flags (and the page after it, to see
			// where the folio ends) serves both counts.
			if (!pread_all(kf, flags.data(), (n + 1) * 8, static_cast<off_t>(pfn0 * 8)))
				continue;
			c.pages_sampled += n;
			for (uint64_t i = 0; i < n; ++i)
				c.pages_in_large_folio += (flags[i] >> kKpfThp) & 1;
			if (n == 1)
				c.blocks_exact += !((flags[0] >> kKpfThp) & 1);
			else if (pfn0 % n == 0) {
				bool exact = ((flags[0] >> kKpfCompoundHead) & 1) && ((flags[0] >> kKpfThp) & 1) &&
					     !((flags[n] >> kKpfCompoundTail) & 1);
				for (uint64_t i = 1; i < n && exact; ++i)
					exact = (flags[i] >> kKpfCompoundTail) & 1;
				c.blocks_exact += exact;
			}
			continue;
		}
		// Scattered or partly absent: each present page's flags on its own; not exact.
		for (uint64_t i = 0; i < n; ++i) {
			uint64_t f = 0;
			if (!(ent[i] & kPagemapPresent) || !pread_all(kf, &f, 8, static_cast<off_t>((ent[i] & kPfnMask) * 8)))
				continue;
			c.pages_sampled++;
			c.pages_in_large_folio += (f >> kKpfThp) & 1;
		}
	}
	close(pm);
	close(kf);
	c.available = ok;
	return c;
}

int64_t smaps_rollup_kb(const std::string &field)
{
	std::ifstream in("/proc/self/smaps_rollup");
	std::string line;
	while (std::getline(in, line))
		if (line.rfind(field + ":", 0) == 0)
			return std::stoll(line.substr(field.size() + 1));
	return -1;
}

}  // namespace odfb
