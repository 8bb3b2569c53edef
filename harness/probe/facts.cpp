#include "probe/facts.h"

#include <cerrno>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include "odf/kallsyms.h"
#include "probe/table.h"

namespace odfb {

namespace {

// libbpf-tools' fentry_try_attach: load and attach an empty fentry program.
int fentry_try_attach(int btf_id)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY, .attach_btf_id = (__u32)btf_id);
	int prog_fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "odfb_probe", "GPL", insns, 2, &opts);
	if (prog_fd < 0)
		return -errno;
	int link_fd = bpf_raw_tracepoint_open(nullptr, prog_fd);
	int err = link_fd < 0 ? -errno : 0;
	if (link_fd >= 0)
		close(link_fd);
	close(prog_fd);
	return err;
}

std::string tracefs_root()
{
	struct stat st;
	for (const char *d : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
		if (stat(fmt::format("{}/events", d).c_str(), &st) == 0)
			return d;
	return "";
}

// "enter_clone" -> syscalls/sys_enter_clone, present in tracefs or not.
bool syscall_event_exists(const std::string &tracefs, const std::string &program)
{
	struct stat st;
	return !tracefs.empty() && stat(fmt::format("{}/events/syscalls/sys_{}", tracefs, program).c_str(), &st) == 0;
}

}  // namespace

// Gather each probe's facts and choose, before load, as libbpf-tools does.
std::vector<ProbeChoice> choose_all(const OdfInfo &odf, const AllowedMechanisms &opts, const btf *vmlinux, FentryCap &cap)
{
	std::set<std::string> fn_names;
	for (const auto &d : probe_defs())
		if (d.kind == ProbeKind::Function)
			fn_names.insert(d.btf_name);
	KallsymsMatch ks = find_text_symbols("/proc/kallsyms", fn_names);

	ProbeFacts base;
	base.variant = odf.variant;
	base.kernel_btf = vmlinux != nullptr;
	base.kallsyms_readable = ks.readable;
	base.tracefs = tracefs_root();
	base.allow_fentry = opts.fentry;
	base.allow_kprobe = opts.kprobe;
	base.allow_tp_btf = opts.tp_btf;

	std::vector<ProbeChoice> choices;
	for (const auto &d : probe_defs()) {
		ProbeFacts f = base;
		int btf_id = -ENOENT;
		switch (d.kind) {
		case ProbeKind::SyscallEvents:
			for (const char *n : d.primary)
				if (syscall_event_exists(f.tracefs, n))
					f.syscall_events.insert(n);
			break;
		case ProbeKind::Tracepoint:
			f.in_btf = vmlinux && btf__find_by_name_kind(vmlinux, fmt::format("btf_trace_{}", d.btf_name).c_str(),
								       BTF_KIND_TYPEDEF) > 0;
			break;
		case ProbeKind::Function:
			f.in_kallsyms = ks.exact.count(d.btf_name) > 0;
			if (auto s = ks.suffixed.find(d.btf_name); s != ks.suffixed.end())
				f.kallsyms_specialized = s->second;
			if (vmlinux)
				btf_id = btf__find_by_name_kind(vmlinux, d.btf_name, BTF_KIND_FUNC);
			f.in_btf = btf_id > 0;
			break;
		}
		if (needs_fentry_test(d, f)) {
			f.fentry_err = fentry_try_attach(btf_id);
			if (!cap.tested) {
				cap.tested = true;
				cap.err = f.fentry_err ? errtext(f.fentry_err) : "";
			}
		}
		choices.push_back(choose_mechanism(d, f));
	}
	return choices;
}

}  // namespace odfb
