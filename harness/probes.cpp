#include "probes.h"

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "clone_latency.skel.h"
#include "fork_copy.skel.h"
#include "fork_tree.skel.h"
#include "odf_tables.skel.h"
#include "page_faults.skel.h"

#include "kallsyms.h"

namespace odfb {

namespace {

std::string g_libbpf_log;
bool g_verbose = false;

int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (g_verbose)
		return vfprintf(stderr, fmt, args);  // verifier logs run to many KiB
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, args);
	if (g_libbpf_log.size() < 64 * 1024)
		g_libbpf_log += buf;
	return n;
}

std::string errtext(int err)
{
	err = err < 0 ? -err : err;
	return fmt::format("{} ({})", std::strerror(err), err);
}

// A skeleton behind a uniform face, so one loop can open, retry and destroy any of them.
struct Object {
	std::string name;
	std::function<bpf_object *()> open;
	std::function<void()> destroy;
	std::function<void()> configure;  // rodata, before load
	bpf_object *obj = nullptr;
	bool loaded = false;
};

std::string g_btf_path;  // --btf: BTF for CO-RE relocation on kernels that ship none

template <class Skel>
Object make_object(const char *name, Skel *(*open_fn)(const bpf_object_open_opts *), void (*destroy_fn)(Skel *),
		   std::function<void(Skel *)> configure = {})
{
	auto holder = std::make_shared<Skel *>(nullptr);
	Object o;
	o.name = name;
	o.open = [holder, open_fn]() -> bpf_object * {
		LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = g_btf_path.empty() ? nullptr : g_btf_path.c_str());
		*holder = open_fn(&oo);
		return *holder ? (*holder)->obj : nullptr;
	};
	o.destroy = [holder, destroy_fn]() {
		if (*holder)
			destroy_fn(*holder);
		*holder = nullptr;
	};
	o.configure = [holder, configure]() {
		if (configure && *holder)
			configure(*holder);
	};
	return o;
}

// Tracepoint: tp_btf, else raw_tp.  Function: fentry/fexit, else kprobe.
// SyscallEvents: per-syscall tracepoints (syscalls:sys_enter_<name>), else a
// raw_tp on every syscall.
enum class Kind { Tracepoint, Function, SyscallEvents };

// One probe = one concern's attach point, with a program set per mechanism.
struct ProbeDef {
	const char *name;
	const char *object;
	Kind kind;
	std::vector<const char *> primary;   // fentry/fexit or tp_btf programs
	std::vector<const char *> fallback;  // kprobe/kretprobe or raw_tp programs
	const char *btf_name;                // BTF func, or tracepoint (btf_trace_<tp>)
	OdfVariant only_on = OdfVariant::None;  // None: any kernel
	const char *only_why = nullptr;
};

const std::vector<ProbeDef> &probe_defs()
{
	static const std::vector<ProbeDef> defs = {
		{"sched_process_fork", "fork_tree", Kind::Tracepoint, {"fork_btf"}, {"fork_raw"}, "sched_process_fork"},
		{"clone_syscall", "clone_latency", Kind::SyscallEvents,
		 {"enter_clone", "exit_clone", "enter_clone3", "exit_clone3", "enter_fork", "exit_fork", "enter_vfork", "exit_vfork",
		  "enter_tfork", "exit_tfork"},
		 {"enter_raw", "exit_raw"}, "sys_enter"},
		{"page_fault_user", "page_faults", Kind::Tracepoint, {"fault_btf"}, {"fault_raw"}, "page_fault_user"},
		{"copy_page_range", "fork_copy", Kind::Function, {"cpr_fentry", "cpr_fexit"}, {"cpr_kprobe", "cpr_kretprobe"}, "copy_page_range"},
		{"copy_page_range_tfork", "fork_copy", Kind::Function, {"cprt_fentry", "cprt_fexit"}, {"cprt_kprobe", "cprt_kretprobe"}, "copy_page_range_tfork"},
		{"copy_pte_range", "odf_tables", Kind::Function, {"cpte_fentry"}, {"cpte_kprobe"}, "copy_pte_range"},
		{"handle_cow_pte", "odf_tables", Kind::Function, {"hcp_fentry", "hcp_fexit"}, {"hcp_kprobe", "hcp_kretprobe"}, "handle_cow_pte"},
		{"cow_pte_fallback", "odf_tables", Kind::Function, {"fallback_fentry"}, {"fallback_kprobe"}, "cow_pte_fallback"},
		{"handle_mm_fault", "odf_tables", Kind::Function, {"hmf_fentry", "hmf_fexit"}, {"hmf_kprobe", "hmf_kretprobe"}, "handle_mm_fault",
		 OdfVariant::Patchset60, "only attached on patchset-6.0 kernels, where it tells fault-time cow_pte_fallback from munmap/exit"},
		{"tfork_one_pte_table", "odf_tables", Kind::Function, {"tfork_fentry"}, {"tfork_kprobe"}, "tfork_one_pte_table"},
	};
	return defs;
}

const char *primary_name(Kind k)
{
	switch (k) {
	case Kind::Function: return "fentry";
	case Kind::SyscallEvents: return "syscall tracepoints";
	default: return "tp_btf";
	}
}

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

struct Probes::Impl {
	std::vector<Object> objects;
	// Per attached probe: its programs, and its links while it is live.
	std::map<std::string, std::vector<bpf_program *>> programs;
	std::map<std::string, std::vector<bpf_link *>> links;
	struct btf *vmlinux = nullptr;
	~Impl()
	{
		for (auto &[name, ls] : links)
			for (auto *l : ls)
				bpf_link__destroy(l);
		for (auto &o : objects)
			o.destroy();
		btf__free(vmlinux);
	}
};

nlohmann::json ProbeStatus::to_json() const
{
	return {{"name", name},         {"concern", concern}, {"mechanism", mechanism},
		{"program_type", program_type}, {"attached", attached}, {"reason", reason}};
}

nlohmann::json Probes::report_json() const
{
	auto a = nlohmann::json::array();
	for (const auto &p : report_)
		a.push_back(p.to_json());
	return a;
}

nlohmann::json Probes::capabilities_json() const { return caps_; }

bool Probes::attached(const std::string &name) const
{
	for (const auto &p : report_)
		if (p.name == name)
			return p.attached;
	return false;
}

void Probes::set_live(const std::string &probe, bool on)
{
	auto progs = impl_->programs.find(probe);
	if (progs == impl_->programs.end())
		return;  // never attached: nothing to switch
	auto &ls = impl_->links[probe];
	if (!on) {
		for (auto *l : ls)
			bpf_link__destroy(l);
		ls.clear();
		return;
	}
	if (!ls.empty())
		return;
	for (auto *prog : progs->second) {
		bpf_link *l = bpf_program__attach(prog);
		if (!l)
			throw std::runtime_error(fmt::format("reattaching {}: {}", bpf_program__name(prog), errtext(errno)));
		ls.push_back(l);
	}
}

bool Probes::live(const std::string &probe) const
{
	auto it = impl_->links.find(probe);
	return it != impl_->links.end() && !it->second.empty();
}

void Probes::detach()
{
	for (auto &[name, progs] : impl_->programs)
		set_live(name, false);
}

void Probes::reattach()
{
	for (auto &[name, progs] : impl_->programs)
		set_live(name, true);
}

std::vector<Probes::ProgramStats> Probes::program_stats() const
{
	std::vector<ProgramStats> out;
	for (const auto &[name, progs] : impl_->programs) {
		for (auto *prog : progs) {
			bpf_prog_info info{};
			__u32 len = sizeof(info);
			ProgramStats ps;
			ps.program = bpf_program__name(prog);
			if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) {
				ps.run_cnt = info.run_cnt;
				ps.run_time_ns = info.run_time_ns;
			}
			out.push_back(ps);
		}
	}
	return out;
}

Probes::~Probes()
{
	impl_.reset();  // links before objects before maps
	if (procs_fd_ >= 0)
		close(procs_fd_);
	if (inflight_fd_ >= 0)
		close(inflight_fd_);
}

std::unique_ptr<Probes> Probes::open(const OdfInfo &odf, const ProbeOptions &opts)
{
	g_verbose = opts.verbose;
	g_btf_path = opts.btf_path;
	if (!g_btf_path.empty() && access(g_btf_path.c_str(), R_OK) != 0)
		throw std::runtime_error(fmt::format("--btf {}: {}", g_btf_path, errtext(errno)));
	libbpf_set_print(libbpf_print);
	std::unique_ptr<Probes> p(new Probes());
	p->impl_ = std::make_unique<Impl>();
	auto &impl = *p->impl_;
	auto &caps = p->caps_;

	// Per-run maps: every object reuses these, and nothing is pinned, so two
	// runs never share state and everything goes away with the fds.
	LIBBPF_OPTS(bpf_map_create_opts, mopts);
	p->procs_fd_ = bpf_map_create(BPF_MAP_TYPE_HASH, "odfb_procs", sizeof(__u32), sizeof(proc_stats), ODFB_MAX_PROCS, &mopts);
	if (p->procs_fd_ < 0)
		throw std::runtime_error(fmt::format("cannot create BPF maps: {}", errtext(errno)));
	p->inflight_fd_ = bpf_map_create(BPF_MAP_TYPE_HASH, "odfb_inflight", sizeof(inflight_key), sizeof(__u64), ODFB_MAX_PROCS, &mopts);
	if (p->inflight_fd_ < 0)
		throw std::runtime_error(fmt::format("cannot create BPF maps: {}", errtext(errno)));

	long tfork_nr = odf.variant == OdfVariant::Paper56 ? 439 : -1;
	impl.objects.push_back(make_object<fork_tree_bpf>("fork_tree", fork_tree_bpf__open_opts, fork_tree_bpf__destroy));
	impl.objects.push_back(make_object<clone_latency_bpf>("clone_latency", clone_latency_bpf__open_opts, clone_latency_bpf__destroy,
							     [tfork_nr](clone_latency_bpf *s) { s->rodata->tfork_nr = tfork_nr; }));
	impl.objects.push_back(make_object<page_faults_bpf>("page_faults", page_faults_bpf__open_opts, page_faults_bpf__destroy));
	impl.objects.push_back(make_object<fork_copy_bpf>("fork_copy", fork_copy_bpf__open_opts, fork_copy_bpf__destroy));
	impl.objects.push_back(make_object<odf_tables_bpf>("odf_tables", odf_tables_bpf__open_opts, odf_tables_bpf__destroy));

	impl.vmlinux = btf__load_vmlinux_btf();  // NULL without kernel BTF
	bool have_btf = impl.vmlinux != nullptr;

	std::set<std::string> fn_names;
	for (const auto &d : probe_defs())
		if (d.kind == Kind::Function)
			fn_names.insert(d.btf_name);
	KallsymsMatch ks = find_text_symbols("/proc/kallsyms", fn_names);

	// Decide each probe's mechanism before load, as libbpf-tools does.
	struct Choice {
		const ProbeDef *def;
		ProbeStatus st;
		bool use_primary = false, use_fallback = false;
		std::string primary_err;
		std::vector<const char *> primary;  // def->primary, less what this kernel lacks
		const std::vector<const char *> &programs() const
		{
			static const std::vector<const char *> none;
			return use_primary ? primary : use_fallback ? def->fallback : none;
		}
	};
	const std::string tracefs = tracefs_root();
	std::vector<Choice> choices;
	std::string fentry_cap_err;
	bool fentry_cap_tested = false;
	for (const auto &d : probe_defs()) {
		Choice c{&d, {}, false, false, {}, d.primary};
		c.st.name = d.name;
		c.st.concern = d.object;
		c.st.mechanism = "none";
		if (d.kind == Kind::SyscallEvents) {
			std::erase_if(c.primary, [&](const char *n) { return !syscall_event_exists(tracefs, n); });
			if (!opts.allow_tp_btf)
				c.primary_err = "syscall tracepoints disabled by option";
			else if (tracefs.empty())
				c.primary_err = "no tracefs (mount it on /sys/kernel/tracing)";
			else if (c.primary.size() < 2)
				c.primary_err = fmt::format("{}/events/syscalls/sys_{} absent (CONFIG_FTRACE_SYSCALLS off?)", tracefs,
							    d.primary[0]);
			else
				c.use_primary = true;
			c.use_fallback = !c.use_primary;
		} else if (d.kind == Kind::Tracepoint) {
			std::string tname = std::string("btf_trace_") + d.btf_name;
			if (!opts.allow_tp_btf)
				c.primary_err = "tp_btf disabled by option";
			else if (!have_btf)
				c.primary_err = "tp_btf needs kernel BTF (/sys/kernel/btf/vmlinux absent)";
			else if (btf__find_by_name_kind(impl.vmlinux, tname.c_str(), BTF_KIND_TYPEDEF) <= 0)
				c.primary_err = fmt::format("{} not in kernel BTF", tname);
			else
				c.use_primary = true;
			c.use_fallback = !c.use_primary;
		} else {
			bool present = ks.exact.count(d.btf_name) > 0;
			if (d.only_on != OdfVariant::None && odf.variant != d.only_on) {
				c.st.reason = fmt::format("not attempted: {}", d.only_why);
				choices.push_back(std::move(c));
				continue;
			}
			if (!present) {
				auto s = ks.suffixed.find(d.btf_name);
				c.st.reason = s != ks.suffixed.end()
						      ? fmt::format("only the compiler-specialized {} is in /proc/kallsyms", s->second)
						      : fmt::format("{} is not in /proc/kallsyms{}", d.btf_name,
								    ks.readable ? "" : " (unreadable)");
				choices.push_back(std::move(c));
				continue;
			}
			int id = have_btf ? btf__find_by_name_kind(impl.vmlinux, d.btf_name, BTF_KIND_FUNC) : -ENOENT;
			if (!opts.allow_fentry)
				c.primary_err = "fentry disabled by option";
			else if (!have_btf)
				c.primary_err = "fentry needs kernel BTF (/sys/kernel/btf/vmlinux absent)";
			else if (id <= 0)
				c.primary_err = fmt::format("{} not in kernel BTF", d.btf_name);
			else {
				int err = fentry_try_attach(id);
				if (!fentry_cap_tested) {
					fentry_cap_tested = true;
					fentry_cap_err = err ? errtext(err) : "";
				}
				if (err == 0)
					c.use_primary = true;
				else
					c.primary_err = fmt::format("fentry: {}{}", errtext(err),
								    err == -524 ? " (no BPF JIT/trampoline on this kernel)" : "");
			}
			if (!c.use_primary && opts.allow_kprobe)
				c.use_fallback = true;
			else if (!c.use_primary)
				c.primary_err += "; kprobe disabled by option";
		}
		choices.push_back(std::move(c));
	}

	auto set_autoload = [&](Object &o) {
		bpf_program *prog;
		bpf_object__for_each_program(prog, o.obj) bpf_program__set_autoload(prog, false);
		bool any = false;
		for (auto &c : choices) {
			if (c.def->object != o.name)
				continue;
			for (auto *n : c.programs()) {
				bpf_program__set_autoload(bpf_object__find_program_by_name(o.obj, n), true);
				any = true;
			}
		}
		return any;
	};

	for (auto &o : impl.objects) {
		// Two tries: if a primary-mechanism program fails to load, retry that
		// object with every probe on its fallback.
		for (int attempt = 0; attempt < 2 && !o.loaded; ++attempt) {
			g_libbpf_log.clear();
			o.obj = o.open();
			if (!o.obj) {
				for (auto &c : choices)
					if (c.def->object == o.name)
						c.st.reason = fmt::format("cannot open {}.bpf.o: {}", o.name, errtext(errno));
				break;
			}
			o.configure();
			if (!set_autoload(o)) {
				o.destroy();
				o.obj = nullptr;
				break;
			}
			bpf_map__reuse_fd(bpf_object__find_map_by_name(o.obj, "procs"), p->procs_fd_);
			bpf_map__reuse_fd(bpf_object__find_map_by_name(o.obj, "inflight"), p->inflight_fd_);
			int err = bpf_object__load(o.obj);
			if (!err) {
				o.loaded = true;
				break;
			}
			std::string why = fmt::format("load failed: {}", errtext(err));
			auto nl = g_libbpf_log.find_last_not_of('\n');
			if (!g_libbpf_log.empty()) {
				auto last = g_libbpf_log.substr(0, nl + 1);
				last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
				why += ": " + last;
			}
			if (!have_btf && g_btf_path.empty())
				why += " (its CO-RE field reads need kernel BTF: give --btf FILE)";
			o.destroy();
			o.obj = nullptr;
			bool retry = false;
			for (auto &c : choices) {
				if (c.def->object != o.name || !c.use_primary)
					continue;
				c.primary_err = fmt::format("{} {}", primary_name(c.def->kind), why);
				c.use_primary = false;
				c.use_fallback = c.def->kind != Kind::Function || opts.allow_kprobe;
				retry = true;
			}
			if (!retry) {
				for (auto &c : choices)
					if (c.def->object == o.name && c.use_fallback)
						c.st.reason = why;
				break;
			}
		}
	}

	// Attach probe by probe; a failure only costs that probe.
	for (auto &c : choices) {
		Object *o = nullptr;
		for (auto &ob : impl.objects)
			if (ob.name == c.def->object)
				o = &ob;
		bool fn = c.def->kind == Kind::Function;
		if (!(c.use_primary || c.use_fallback)) {
			if (c.st.reason.empty())
				c.st.reason = c.primary_err;
			p->report_.push_back(c.st);
			continue;
		}
		bool sys = c.def->kind == Kind::SyscallEvents;
		c.st.program_type = c.use_primary ? (fn ? "fentry/fexit" : sys ? "tracepoint" : "tp_btf")
						  : (fn ? "kprobe/kretprobe" : "raw_tp");
		if (!o || !o->loaded) {
			if (c.st.reason.empty())
				c.st.reason = "object not loaded";
			if (!c.primary_err.empty())
				c.st.reason = c.primary_err + "; " + c.st.reason;
			p->report_.push_back(c.st);
			continue;
		}
		std::vector<bpf_link *> mine;
		std::string err;
		for (auto *n : c.programs()) {
			bpf_link *l = bpf_program__attach(bpf_object__find_program_by_name(o->obj, n));
			if (!l) {
				err = fmt::format("{} attach of {} failed: {}", c.st.program_type, n, errtext(errno));
				break;
			}
			mine.push_back(l);
		}
		if (!err.empty()) {
			for (auto *l : mine)
				bpf_link__destroy(l);
			c.st.reason = c.primary_err.empty() ? err : c.primary_err + "; " + err;
		} else {
			impl.links[c.def->name] = mine;
			for (auto *n : c.programs())
				impl.programs[c.def->name].push_back(bpf_object__find_program_by_name(o->obj, n));
			c.st.attached = true;
			c.st.mechanism = c.use_primary ? (fn ? "fentry" : sys ? "syscall-tracepoint" : "tp_btf")
						       : (fn ? "kprobe" : "tracepoint");
			c.st.reason = c.primary_err.empty() ? "" : "fell back: " + c.primary_err;
		}
		p->report_.push_back(c.st);
	}

	bool kprobe_ok = false, tp_btf_ok = false;
	for (const auto &s : p->report_) {
		kprobe_ok |= s.attached && s.mechanism == "kprobe";
		tp_btf_ok |= s.attached && s.mechanism == "tp_btf";
	}
	caps["btf"] = have_btf;
	caps["fentry"] = {{"available", fentry_cap_tested && fentry_cap_err.empty()},
			  {"reason", !fentry_cap_tested ? "not tested (no target function in BTF)" : fentry_cap_err}};
	// kprobes attach through the kprobe PMU, or tracefs's kprobe_events on old kernels.
	struct stat st;
	bool kprobe_pmu = stat("/sys/bus/event_source/devices/kprobe/type", &st) == 0 ||
			  stat("/sys/kernel/tracing/kprobe_events", &st) == 0 ||
			  stat("/sys/kernel/debug/tracing/kprobe_events", &st) == 0;
	caps["kprobe"] = {{"available", kprobe_pmu || kprobe_ok},
			  {"used", kprobe_ok},
			  {"reason", kprobe_pmu || kprobe_ok ? "" : "no kprobe PMU and no kprobe_events in tracefs (CONFIG_KPROBE_EVENTS off?)"}};
	caps["tp_btf"] = {{"available", tp_btf_ok}};
	return p;
}

void ProcTable::track(pid_t tgid)
{
	__u32 k = static_cast<__u32>(tgid);
	proc_stats zero{};
	bpf_map_update_elem(fd_, &k, &zero, BPF_ANY);
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

void ProcTable::clear()
{
	std::vector<__u32> keys;
	__u32 k, next;
	for (int rc = bpf_map_get_next_key(fd_, nullptr, &next); rc == 0; rc = bpf_map_get_next_key(fd_, &k, &next)) {
		keys.push_back(next);
		k = next;
	}
	for (auto key : keys)
		bpf_map_delete_elem(fd_, &key);
}

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
