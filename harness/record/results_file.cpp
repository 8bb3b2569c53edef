#include "record/results_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/sysinfo.h"

namespace odfb {

ResultsFile::ResultsFile(std::string path) : path_(std::move(path))
{
	namespace fs = std::filesystem;
	fs::path p(path_);
	if (p.has_parent_path()) {
		std::error_code ec;
		fs::create_directories(p.parent_path(), ec);
		if (ec)
			throw std::runtime_error(fmt::format("output {}: cannot create directory {}: {}", path_,
							     p.parent_path().string(), ec.message()));
	}
	int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			throw std::runtime_error(fmt::format("output {} already exists: odfbench never overwrites results", path_));
		throw std::runtime_error(fmt::format("output {} is not writable: {}", path_, std::strerror(errno)));
	}
	close(fd);
}

void ResultsFile::write(const nlohmann::json &doc) { write_text(doc.dump(2) + "\n"); }

void ResultsFile::write_text(const std::string &text) { replace_file_atomically(path_, text); }

void replace_file_atomically(const std::string &path_, const std::string &text)
{
	std::string tmp = fmt::format("{}.tmp.{}", path_, getpid());
	int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		throw std::runtime_error(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
	size_t off = 0;
	while (off < text.size()) {
		ssize_t n = ::write(fd, text.data() + off, text.size() - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			unlink(tmp.c_str());
			throw std::runtime_error(fmt::format("cannot write {}: {}", tmp, std::strerror(e)));
		}
		off += static_cast<size_t>(n);
	}
	fsync(fd);
	close(fd);
	if (rename(tmp.c_str(), path_.c_str()) != 0) {
		int e = errno;
		unlink(tmp.c_str());
		throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", tmp, path_, std::strerror(e)));
	}
}

std::string ResultsFile::default_path(const std::string &dir, const std::string &stem, const std::string &ext)
{
	std::string ts = utc_timestamp();
	for (char &c : ts)
		if (c == ':')
			c = '-';
	std::string base = fmt::format("{}/{}-{}", dir, stem, ts);
	std::string p = base + ext;
	for (int i = 1; std::filesystem::exists(p); ++i)
		p = fmt::format("{}-{}{}", base, i, ext);
	return p;
}

}  // namespace odfb
