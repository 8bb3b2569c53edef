// The correctness matrix as people read it: a markdown table, or text.
#include "check/check.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace odfb {

namespace {
std::string cell(const nlohmann::json &c, const std::string &mode)
{
	if (!c["results"].contains(mode))
		return "-";
	return c["results"][mode]["status"].get<std::string>();
}

// A verdict the kernel contradicted: "pass" while it logged a bad rss counter, say.
bool warned(const nlohmann::json &c, const std::string &mode)
{
	return c["results"].contains(mode) && c["results"][mode].contains("kernel_verdict");
}

// The kernel's own reports during a check, per mode: "odf: warnings (3)".
std::string kernel_column(const nlohmann::json &c, const nlohmann::json &modes)
{
	std::string out;
	for (const auto &m : modes) {
		const auto &r = c["results"].value(m.get<std::string>(), nlohmann::json::object());
		if (r.contains("kernel_verdict"))
			out += fmt::format("{}{}: {} ({})", out.empty() ? "" : ", ", m.get<std::string>(), r["kernel_verdict"].get<std::string>(),
					   r["kernel_lines"].size());
	}
	return out.empty() ? "-" : out;
}
}  // namespace

std::string checks_markdown(const nlohmann::json &doc)
{
	std::string s = fmt::format("ODF correctness matrix: kernel {}, ODF variant {}{}\n\n", doc["kernel"]["release"].get<std::string>(),
				    doc["odf"]["variant"].get<std::string>(),
				    doc["environment"]["vm"].is_null() ? ""
				    : fmt::format(", in a QEMU guest ({})", doc["environment"]["vm"].value("accelerator", "?")));
	s += "| check | group |";
	for (const auto &m : doc["modes"])
		s += fmt::format(" {} |", m.get<std::string>());
	s += " kernel warnings |\n|---|---|";
	for (size_t i = 0; i <= doc["modes"].size(); ++i)
		s += "---|";
	s += "\n";
	std::string notes;
	for (const auto &c : doc["checks"]) {
		s += fmt::format("| {} | {} |", c["name"].get<std::string>(), c["group"].get<std::string>());
		for (const auto &m : doc["modes"]) {
			std::string st = cell(c, m);
			bool bad = st == "fail" || st == "crashed" || st == "hung" || st == "error" || st == "kernel-crash";
			std::string shown = warned(c, m) ? st + ", kernel warnings" : st;
			s += fmt::format(" {} |", bad || warned(c, m) ? "**" + shown + "**" : shown);
			const auto &r = c["results"][m.get<std::string>()];
			// A pass may carry a note of what was exercised (khugepaged's collapses, say).
			if (st != "n/a" && st != "unavailable" && !r.value("detail", "").empty())
				notes += fmt::format("- `{}` under {}: {}\n", c["name"].get<std::string>(), m.get<std::string>(),
						     r["detail"].get<std::string>());
			if (r.contains("kernel_lines"))
				notes += fmt::format("- `{}` under {}: the kernel said `{}`{}\n", c["name"].get<std::string>(), m.get<std::string>(),
						     r["kernel_lines"][0].get<std::string>(),
						     r["kernel_lines"].size() > 1 ? fmt::format(" and {} more lines", r["kernel_lines"].size() - 1) : "");
		}
		s += fmt::format(" {} |\n", kernel_column(c, doc["modes"]));
	}
	if (!notes.empty())
		s += "\n" + notes;
	if (!doc["first_taint"].is_null())
		s += fmt::format("\nThe kernel was tainted (oops, BUG or warning) during `{}`: verdicts after it ran on a damaged kernel.\n",
				 doc["first_taint"].get<std::string>());
	return s;
}

std::string checks_text(const nlohmann::json &doc)
{
	std::string s;
	for (const auto &c : doc["checks"]) {
		s += fmt::format("{:<28}", c["name"].get<std::string>());
		for (const auto &m : doc["modes"])
			s += fmt::format(" {:>5}: {:<12}", m.get<std::string>(), cell(c, m) + (warned(c, m) ? "+kwarn" : ""));
		s += "\n";
		for (const auto &m : doc["modes"]) {
			const auto &r = c["results"][m.get<std::string>()];
			std::string st = r["status"];
			if (st != "n/a" && st != "unavailable" && !r.value("detail", "").empty())
				s += fmt::format("    {}: {}\n", m.get<std::string>(), r.value("detail", ""));
			if (r.contains("kernel_lines"))
				s += fmt::format("    {}: kernel {}: {}{}\n", m.get<std::string>(), r["kernel_verdict"].get<std::string>(),
						 r["kernel_lines"][0].get<std::string>(),
						 r["kernel_lines"].size() > 1 ? fmt::format(" (+{} lines)", r["kernel_lines"].size() - 1) : "");
		}
	}
	return s;
}

}  // namespace odfb
