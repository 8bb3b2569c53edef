#include "probe/choice.h"

#include <cstring>

#include <fmt/format.h>

#include "odf/abi.h"

namespace odfb {

std::string errtext(int err)
{
	err = err < 0 ? -err : err;
	return fmt::format("{} ({})", std::strerror(err), err);
}

const std::vector<const char *> &ProbeChoice::programs() const
{
	static const std::vector<const char *> none;
	return use == ProbeUse::Primary ? primary : use == ProbeUse::Fallback ? def->fallback : none;
}

bool needs_fentry_test(const ProbeDef &d, const ProbeFacts &f)
{
	return d.kind == ProbeKind::Function && (d.only_on == OdfVariant::None || f.variant == d.only_on) && f.in_kallsyms &&
	       f.allow_fentry && f.kernel_btf && f.in_btf;
}

namespace {

// Syscall tracepoints, else a raw_tp on every syscall.  It takes at least
// one enter/exit pair for the primary to be worth it.
void choose_syscall_events(ProbeChoice &c, const ProbeFacts &f)
{
	std::erase_if(c.primary, [&](const char *n) { return f.tracefs.empty() || !f.syscall_events.count(n); });
	if (!f.allow_tp_btf)
		c.primary_err = "syscall tracepoints disabled by option";
	else if (f.tracefs.empty())
		c.primary_err = "no tracefs (mount it on /sys/kernel/tracing)";
	else if (c.primary.size() < 2)
		c.primary_err = fmt::format("{}/events/syscalls/sys_{} absent (CONFIG_FTRACE_SYSCALLS off?)", f.tracefs,
					    c.def->primary[0]);
	c.use = c.primary_err.empty() ? ProbeUse::Primary : ProbeUse::Fallback;
}

// raw_tp needs neither BTF nor tracefs, so a tracepoint always has a fallback.
void choose_tracepoint(ProbeChoice &c, const ProbeFacts &f)
{
	if (!f.allow_tp_btf)
		c.primary_err = "tp_btf disabled by option";
	else if (!f.kernel_btf)
		c.primary_err = "tp_btf needs kernel BTF (/sys/kernel/btf/vmlinux absent)";
	else if (!f.in_btf)
		c.primary_err = fmt::format("btf_trace_{} not in kernel BTF", c.def->btf_name);
	c.use = c.primary_err.empty() ? ProbeUse::Primary : ProbeUse::Fallback;
}

// A function absent from kallsyms (or there only as a gcc clone) can take
// neither fentry nor kprobe, so it is not attempted at all.
void choose_function(ProbeChoice &c, const ProbeFacts &f)
{
	const ProbeDef &d = *c.def;
	if (d.only_on != OdfVariant::None && f.variant != d.only_on) {
		c.reason = fmt::format("not attempted: {}", d.only_why);
		return;
	}
	if (!f.in_kallsyms) {
		c.reason = !f.kallsyms_specialized.empty()
				   ? fmt::format("only the compiler-specialized {} is in /proc/kallsyms", f.kallsyms_specialized)
				   : fmt::format("{} is not in /proc/kallsyms{}", d.btf_name, f.kallsyms_readable ? "" : " (unreadable)");
		return;
	}
	if (!f.allow_fentry)
		c.primary_err = "fentry disabled by option";
	else if (!f.kernel_btf)
		c.primary_err = "fentry needs kernel BTF (/sys/kernel/btf/vmlinux absent)";
	else if (!f.in_btf)
		c.primary_err = fmt::format("{} not in kernel BTF", d.btf_name);
	else if (f.fentry_err != 0)
		c.primary_err = fmt::format("fentry: {}{}", errtext(f.fentry_err),
					    f.fentry_err == -abi::kErrNotSupp ? " (no BPF JIT/trampoline on this kernel)" : "");
	if (c.primary_err.empty())
		c.use = ProbeUse::Primary;
	else if (f.allow_kprobe)
		c.use = ProbeUse::Fallback;
	else
		c.primary_err += "; kprobe disabled by option";
}

const char *primary_name(ProbeKind k)
{
	switch (k) {
	case ProbeKind::Function: return "fentry";
	case ProbeKind::SyscallEvents: return "syscall tracepoints";
	default: return "tp_btf";
	}
}

}  // namespace

ProbeChoice choose_mechanism(const ProbeDef &def, const ProbeFacts &facts)
{
	ProbeChoice c;
	c.def = &def;
	c.primary = def.primary;
	switch (def.kind) {
	case ProbeKind::SyscallEvents: choose_syscall_events(c, facts); break;
	case ProbeKind::Tracepoint: choose_tracepoint(c, facts); break;
	case ProbeKind::Function: choose_function(c, facts); break;
	}
	return c;
}

bool fall_back_after_load_failure(ProbeChoice &c, const std::string &why, bool allow_kprobe)
{
	if (c.use != ProbeUse::Primary)
		return false;
	c.primary_err = fmt::format("{} {}", primary_name(c.def->kind), why);
	// Unlike at choice time, no "; kprobe disabled by option" here.
	c.use = c.def->kind != ProbeKind::Function || allow_kprobe ? ProbeUse::Fallback : ProbeUse::None;
	return true;
}

const char *program_type(const ProbeChoice &c)
{
	bool fn = c.def->kind == ProbeKind::Function, sys = c.def->kind == ProbeKind::SyscallEvents;
	switch (c.use) {
	case ProbeUse::Primary: return fn ? "fentry/fexit" : sys ? "tracepoint" : "tp_btf";
	case ProbeUse::Fallback: return fn ? "kprobe/kretprobe" : "raw_tp";
	default: return "";
	}
}

const char *mechanism(const ProbeChoice &c)
{
	bool fn = c.def->kind == ProbeKind::Function, sys = c.def->kind == ProbeKind::SyscallEvents;
	switch (c.use) {
	case ProbeUse::Primary: return fn ? "fentry" : sys ? "syscall-tracepoint" : "tp_btf";
	case ProbeUse::Fallback: return fn ? "kprobe" : "tracepoint";
	default: return "none";
	}
}

std::string after_primary_err(const ProbeChoice &c, const std::string &why)
{
	return c.primary_err.empty() ? why : c.primary_err + "; " + why;
}

std::string attached_reason(const ProbeChoice &c)
{
	return c.primary_err.empty() ? "" : "fell back: " + c.primary_err;
}

}  // namespace odfb
