// The "newc" cpio format: the kernel's initramfs format, and what busybox
// cpio writes.  Written by hand because the format is tiny and a library
// (libarchive) would have to be linked statically into odfbench as well.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace odfb {

struct CpioEntry {
	std::string name;  // without a leading "/" or "./"
	uint32_t mode = 0; // file type and permission bits, as in st_mode
	std::string data;  // file contents, or the symlink target
	uint32_t rdev_major = 0, rdev_minor = 0;
};

class CpioWriter {
public:
	void dir(const std::string &name, uint32_t perm = 0755);
	void file(const std::string &name, std::string data, uint32_t perm = 0644);
	void symlink(const std::string &name, const std::string &target);
	void chardev(const std::string &name, uint32_t major, uint32_t minor, uint32_t perm = 0600);
	// Appends the trailer and returns the whole archive.
	std::string finish();

private:
	void add(const CpioEntry &e);
	std::string out_;
	uint32_t ino_ = 1;
};

// Parses a newc archive up to its trailer.  Throws std::runtime_error naming
// the offset if the archive is malformed or truncated.
std::vector<CpioEntry> read_cpio(const std::string &archive);

}  // namespace odfb
