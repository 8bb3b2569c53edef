// The results file: claimed exclusively at start (never overwrites anything),
// then replaced atomically (temp file + rename) at each checkpoint, so the
// path always holds a complete, valid document -- even after a kill.
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace odfb {

inline constexpr int kSchemaVersion = 1;

class ResultsFile {
public:
	// Throws std::runtime_error naming the path if it exists or cannot be written.
	explicit ResultsFile(std::string path);
	void write(const nlohmann::json &doc);
	void write_text(const std::string &text);  // same guarantees, for a markdown report
	const std::string &path() const { return path_; }
	static std::string default_path(const std::string &dir, const std::string &stem, const std::string &ext = ".json");

private:
	std::string path_;
};

// Temp file + rename: readers see the old text or the new, never a half.  For
// reports that are meant to be regenerated in place (docs/performance.md).
void replace_file_atomically(const std::string &path, const std::string &text);

}  // namespace odfb
