#include "vm/cpio.h"

#include <stdexcept>
#include <sys/stat.h>

#include <fmt/format.h>

namespace odfb {

namespace {

constexpr size_t kHeader = 110;  // "070701" + 13 fields of 8 hex digits

size_t pad4(size_t n) { return (4 - n % 4) % 4; }

}  // namespace

void CpioWriter::add(const CpioEntry &e)
{
	std::string name = e.name + '\0';
	out_ += fmt::format("070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}",
			    ino_++, e.mode, 0, 0, 1, 0, e.data.size(), 0, 0, e.rdev_major, e.rdev_minor, name.size(), 0);
	out_ += name;
	out_.append(pad4(kHeader + name.size()), '\0');
	out_ += e.data;
	out_.append(pad4(e.data.size()), '\0');
}

void CpioWriter::dir(const std::string &name, uint32_t perm) { add({name, S_IFDIR | perm, {}}); }
void CpioWriter::file(const std::string &name, std::string data, uint32_t perm) { add({name, S_IFREG | perm, std::move(data)}); }
void CpioWriter::symlink(const std::string &name, const std::string &target) { add({name, S_IFLNK | 0777, target}); }
void CpioWriter::chardev(const std::string &name, uint32_t major, uint32_t minor, uint32_t perm)
{
	add({name, S_IFCHR | perm, {}, major, minor});
}

std::string CpioWriter::finish()
{
	add({"TRAILER!!!", 0, {}});
	return std::move(out_);
}

std::vector<CpioEntry> read_cpio(const std::string &a)
{
	std::vector<CpioEntry> entries;
	size_t off = 0;
	auto field = [&](size_t i) {
		std::string hex = a.substr(off + 6 + 8 * i, 8);
		size_t used = 0;
		unsigned long v = 0;
		try {
			v = std::stoul(hex, &used, 16);
		} catch (const std::exception &) {
		}
		if (used != 8)
			throw std::runtime_error(fmt::format("cpio: bad header field at offset {}", off));
		return static_cast<uint32_t>(v);
	};
	for (;;) {
		if (off + kHeader > a.size())
			throw std::runtime_error(fmt::format("cpio: truncated at offset {} (no trailer)", off));
		if (a.compare(off, 6, "070701") != 0)
			throw std::runtime_error(fmt::format("cpio: no newc magic at offset {}", off));
		CpioEntry e;
		e.mode = field(1);
		uint32_t size = field(6), namesize = field(11);
		e.rdev_major = field(9);
		e.rdev_minor = field(10);
		size_t name_at = off + kHeader, data_at = name_at + namesize + pad4(kHeader + namesize);
		if (namesize == 0 || data_at + size > a.size())
			throw std::runtime_error(fmt::format("cpio: truncated entry at offset {}", off));
		e.name = a.substr(name_at, namesize - 1);
		if (e.name == "TRAILER!!!")
			return entries;
		while (e.name.rfind("./", 0) == 0)
			e.name.erase(0, 2);
		e.data = a.substr(data_at, size);
		off = data_at + size + pad4(size);
		if (!e.name.empty() && e.name != ".")
			entries.push_back(std::move(e));
	}
}

}  // namespace odfb
