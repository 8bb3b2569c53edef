#include "kernel/recipe.h"

#include <algorithm>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace odfb {

std::map<std::string, KernelVariant> parse_variants(const nlohmann::json &j)
{
	if (!j.is_object())
		throw std::invalid_argument("variants: not a JSON object");
	std::map<std::string, KernelVariant> out;
	for (auto &[name, e] : j.items()) {
		auto bad = [&](const std::string &why) { return std::invalid_argument(fmt::format("variant {}: {}", name, why)); };
		if (!e.is_object())
			throw bad("not an object");
		KernelVariant v;
		v.name = name;
		auto str = [&](const char *k) {
			if (!e.contains(k))
				return std::string();
			if (!e[k].is_string())
				throw bad(fmt::format("{} must be a string", k));
			return e[k].get<std::string>();
		};
		v.description = str("description");
		v.git = str("git");
		v.ref = str("ref");
		v.commit = str("commit");
		v.debian_package = str("debian_package");
		v.debian_suite = str("debian_suite");
		v.odf_variant = str("odf_variant");
		v.btf = str("btf");
		v.cc = str("cc");
		v.hostcflags = str("hostcflags");
		v.minutes_on_2_cores = e.value("minutes_on_2_cores", 0);
		if (e.contains("base"))
			v.base = str("base");
		for (const char *k : {"fragments", "packages"})
			if (e.contains(k) && !(e[k].is_array() && std::all_of(e[k].begin(), e[k].end(), [](auto &x) { return x.is_string(); })))
				throw bad(fmt::format("{} must be a list of strings", k));
		v.fragments = e.value("fragments", std::vector<std::string>{});
		v.packages = e.value("packages", std::vector<std::string>{});
		if (v.from_debian() == !v.git.empty())
			throw bad("needs exactly one of git (a build) or debian_package (an unpacked package)");
		if (!v.git.empty() && v.ref.empty())
			throw bad("a git variant needs a ref (branch)");
		if (!v.git.empty() && v.fragments.empty())
			throw bad("a git variant needs configuration fragments");
		if (v.from_debian() && v.debian_suite.empty())
			throw bad("a Debian variant needs debian_suite");
		if (!v.commit.empty() && !std::regex_match(v.commit, std::regex("[0-9a-f]{40}")))
			throw bad("commit must be 40 hex digits");
		if (v.base != "x86_64_defconfig" && v.base != "allnoconfig")
			throw bad("base must be x86_64_defconfig or allnoconfig");
		if (v.btf != "in-kernel" && v.btf != "pahole")
			throw bad("btf must be in-kernel or pahole");
		if (v.odf_variant != "patchset-6.0" && v.odf_variant != "paper-5.6" && v.odf_variant != "none")
			throw bad("odf_variant must be patchset-6.0, paper-5.6 or none");
		out[name] = v;
	}
	return out;
}

std::map<std::string, std::string> parse_kconfig(const std::string &text)
{
	static const std::regex set("^(CONFIG_[A-Za-z0-9_]+)=(.*)$");
	static const std::regex unset("^# (CONFIG_[A-Za-z0-9_]+) is not set$");
	std::map<std::string, std::string> out;
	std::istringstream in(text);
	std::string line;
	std::smatch m;
	while (std::getline(in, line)) {
		while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
			line.pop_back();
		if (std::regex_match(line, m, set))
			out[m[1]] = m[2];
		else if (std::regex_match(line, m, unset))
			out[m[1]] = "n";
	}
	return out;
}

std::vector<KconfigMiss> kconfig_unmet(const std::vector<std::string> &fragment_texts, const std::string &final_config)
{
	std::map<std::string, std::string> wanted;
	for (const auto &t : fragment_texts)
		for (auto &[k, v] : parse_kconfig(t))
			wanted[k] = v;
	auto have = parse_kconfig(final_config);
	std::vector<KconfigMiss> miss;
	for (auto &[k, v] : wanted) {
		auto it = have.find(k);
		std::string got = it == have.end() ? "n" : it->second;
		if (got != v)
			miss.push_back({k, v, got});
	}
	return miss;
}

std::string recipe_text(const KernelVariant &v, const std::vector<std::pair<std::string, std::string>> &fragments,
			const std::string &build_script)
{
	// Every field that changes the image; the description does not.
	nlohmann::json j = {{"name", v.name},       {"git", v.git},
			    {"ref", v.ref},         {"commit", v.commit},
			    {"debian_package", v.debian_package}, {"debian_suite", v.debian_suite},
			    {"fragments", v.fragments}, {"btf", v.btf},
			    {"base", v.base},
			    {"cc", v.cc},           {"hostcflags", v.hostcflags}};
	std::string text = j.dump() + "\n";
	for (const auto &[name, body] : fragments)
		text += fmt::format("--- {} ({} bytes)\n{}", name, body.size(), body);
	text += fmt::format("--- build.sh ({} bytes)\n{}", build_script.size(), build_script);
	return text;
}

std::string cache_entry_name(const std::string &variant, const std::string &commit, const std::string &recipe_hash)
{
	auto clean = [](std::string s) {
		for (auto &c : s)
			if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_'))
				c = '_';
		return s;
	};
	if (variant.empty() || commit.empty() || recipe_hash.size() < 12)
		throw std::invalid_argument("cache_entry_name: variant, commit and a hash of 12+ digits are required");
	bool sha = commit.size() == 40 && commit.find_first_not_of("0123456789abcdef") == std::string::npos;
	return fmt::format("{}-{}-{}", variant, clean(sha ? commit.substr(0, 12) : commit), recipe_hash.substr(0, 12));
}

}  // namespace odfb
