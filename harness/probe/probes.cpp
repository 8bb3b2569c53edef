#include "probe/probes.h"

#include <cerrno>
#include <cstdarg>
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
#include "fault_latency.skel.h"
#include "fork_copy.skel.h"
#include "fork_phases.skel.h"
#include "fork_tree.skel.h"
#include "odf_tables.skel.h"
#include "page_faults.skel.h"

#include "odf/kallsyms.h"
#include "odf/abi.h"
#include "probe/choice.h"
#include "probe/facts.h"
#include "probe/proc_table.h"
#include "base/sysinfo.h"

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
	for (int fd : {inflight_fd_, hists_fd_, gate_fd_})
		if (fd >= 0)
			close(fd);
}

namespace {

// Only the chosen programs load; false if the object has none.
bool set_autoload(Object &o, const std::vector<ProbeChoice> &choices)
{
	bpf_program *prog;
	bpf_object__for_each_program(prog, o.obj) bpf_program__set_autoload(prog, false);
	bool any = false;
	for (const auto &c : choices) {
		if (c.def->object != o.name)
			continue;
		for (auto *n : c.programs()) {
			bpf_program__set_autoload(bpf_object__find_program_by_name(o.obj, n), true);
			any = true;
		}
	}
	return any;
}

// libbpf's last log line, which names the failing program or relocation.
std::string load_failure(int err, bool have_btf)
{
	std::string why = fmt::format("load failed: {}", errtext(err));
	auto nl = g_libbpf_log.find_last_not_of('\n');
	if (!g_libbpf_log.empty()) {
		auto last = g_libbpf_log.substr(0, nl + 1);
		last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
		why += ": " + last;
	}
	if (!have_btf && g_btf_path.empty())
		why += " (its CO-RE field reads need kernel BTF: give --btf FILE)";
	return why;
}

// Two tries: if a primary-mechanism program fails to load, retry the object
// with every probe on its fallback.
void load(Object &o, std::vector<ProbeChoice> &choices, const std::vector<std::pair<const char *, int>> &shared, bool have_btf,
	  bool allow_kprobe)
{
	for (int attempt = 0; attempt < 2 && !o.loaded; ++attempt) {
		g_libbpf_log.clear();
		o.obj = o.open();
		if (!o.obj) {
			for (auto &c : choices)
				if (c.def->object == o.name)
					c.reason = fmt::format("cannot open {}.bpf.o: {}", o.name, errtext(errno));
			return;
		}
		o.configure();
		if (!set_autoload(o, choices)) {
			o.destroy();
			o.obj = nullptr;
			return;
		}
		// Without the shared maps an object would count into a private
		// table nobody reads: a failure here is the whole run's.
		for (auto [map, fd] : shared)
			if (int err = bpf_map__reuse_fd(bpf_object__find_map_by_name(o.obj, map), fd))
				throw std::runtime_error(fmt::format("{}.bpf.o: sharing the {} map failed: {}", o.name, map, errtext(err)));
		int err = bpf_object__load(o.obj);
		if (!err) {
			o.loaded = true;
			return;
		}
		std::string why = load_failure(err, have_btf);
		o.destroy();
		o.obj = nullptr;
		bool retry = false;
		for (auto &c : choices)
			if (c.def->object == o.name)
				retry |= fall_back_after_load_failure(c, why, allow_kprobe);
		if (!retry) {
			for (auto &c : choices)
				if (c.def->object == o.name && c.use == ProbeUse::Fallback)
					c.reason = why;
			return;
		}
	}
}

// A failure only costs this probe.
ProbeStatus attach(const ProbeChoice &c, Probes::Impl &impl)
{
	ProbeStatus st;
	st.name = c.def->name;
	st.concern = c.def->object;
	st.mechanism = "none";
	if (c.use == ProbeUse::None) {
		st.reason = c.reason.empty() ? c.primary_err : c.reason;
		return st;
	}
	st.program_type = program_type(c);
	const Object *o = nullptr;
	for (const auto &ob : impl.objects)
		if (ob.name == c.def->object)
			o = &ob;
	if (!o || !o->loaded) {
		st.reason = after_primary_err(c, c.reason.empty() ? "object not loaded" : c.reason);
		return st;
	}
	std::vector<bpf_link *> mine;
	for (auto *n : c.programs()) {
		bpf_link *l = bpf_program__attach(bpf_object__find_program_by_name(o->obj, n));
		if (!l) {
			st.reason = after_primary_err(c, fmt::format("{} attach of {} failed: {}", st.program_type, n, errtext(errno)));
			for (auto *m : mine)
				bpf_link__destroy(m);
			return st;
		}
		mine.push_back(l);
	}
	impl.links[c.def->name] = mine;
	for (auto *n : c.programs())
		impl.programs[c.def->name].push_back(bpf_object__find_program_by_name(o->obj, n));
	st.attached = true;
	st.mechanism = mechanism(c);
	st.reason = attached_reason(c);
	return st;
}

void add_capabilities(nlohmann::json &caps, const std::vector<ProbeStatus> &report, bool have_btf, const FentryCap &fentry)
{
	bool kprobe_ok = false, tp_btf_ok = false;
	for (const auto &s : report) {
		kprobe_ok |= s.attached && s.mechanism == "kprobe";
		tp_btf_ok |= s.attached && s.mechanism == "tp_btf";
	}
	caps["btf"] = have_btf;
	caps["fentry"] = {{"available", fentry.tested && fentry.err.empty()},
			  {"reason", !fentry.tested ? "not tested (no target function in BTF)" : fentry.err}};
	// kprobes attach through the kprobe PMU, or tracefs's kprobe_events on old kernels.
	struct stat st;
	bool kprobe_pmu = stat("/sys/bus/event_source/devices/kprobe/type", &st) == 0 ||
			  stat("/sys/kernel/tracing/kprobe_events", &st) == 0 ||
			  stat("/sys/kernel/debug/tracing/kprobe_events", &st) == 0;
	caps["kprobe"] = {{"available", kprobe_pmu || kprobe_ok},
			  {"used", kprobe_ok},
			  {"reason", kprobe_pmu || kprobe_ok ? "" : "no kprobe PMU and no kprobe_events in tracefs (CONFIG_KPROBE_EVENTS off?)"}};
	caps["tp_btf"] = {{"available", tp_btf_ok}};
}

}  // namespace

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
	p->hists_fd_ = bpf_map_create(BPF_MAP_TYPE_ARRAY, "odfb_hists", sizeof(__u32), sizeof(odfb_hist), ODFB_HISTS, &mopts);
	p->gate_fd_ = bpf_map_create(BPF_MAP_TYPE_ARRAY, "odfb_fault_gate", sizeof(__u32), sizeof(__u32), 1, &mopts);
	if (p->hists_fd_ < 0 || p->gate_fd_ < 0)
		throw std::runtime_error(fmt::format("cannot create BPF maps: {}", errtext(errno)));

	// In a container the probes must key processes as getpid() does there;
	// a /proc from another namespace would make every /proc read wrong.
	PidNamespace ns = pid_namespace();
	if (!ns.proc_matches())
		throw std::runtime_error(fmt::format(
			"/proc is not this pid namespace's (/proc/self is {}, getpid() is {}): mount this namespace's "
			"/proc (unshare --mount-proc) or run outside the namespace",
			ns.proc_self, getpid()));
	__u64 pidns_ino = ns.initial ? 0 : ns.inode, pidns_dev = ns.initial ? 0 : ns.device;
	caps["pid_namespace"] = {{"initial", ns.initial},
				 {"inode", ns.inode},
				 {"process_key", ns.initial ? "kernel tgid" : "tgid in this pid namespace (getpid())"}};

	long tfork_nr = odf.variant == OdfVariant::Paper56 ? abi::kSysTfork : -1;
	auto ns_only = [pidns_ino, pidns_dev](auto *s) {
		s->rodata->pidns_ino = pidns_ino;
		s->rodata->pidns_dev = pidns_dev;
	};
	impl.objects.push_back(make_object<fork_tree_bpf>("fork_tree", fork_tree_bpf__open_opts, fork_tree_bpf__destroy,
							 ns_only));
	impl.objects.push_back(make_object<clone_latency_bpf>("clone_latency", clone_latency_bpf__open_opts, clone_latency_bpf__destroy,
							     [tfork_nr, ns_only](clone_latency_bpf *s) {
								     s->rodata->tfork_nr = tfork_nr;
								     ns_only(s);
							     }));
	impl.objects.push_back(make_object<page_faults_bpf>("page_faults", page_faults_bpf__open_opts, page_faults_bpf__destroy,
							   ns_only));
	impl.objects.push_back(make_object<fork_copy_bpf>("fork_copy", fork_copy_bpf__open_opts, fork_copy_bpf__destroy, ns_only));
	impl.objects.push_back(make_object<odf_tables_bpf>("odf_tables", odf_tables_bpf__open_opts, odf_tables_bpf__destroy,
							  ns_only));
	impl.objects.push_back(make_object<fault_latency_bpf>("fault_latency", fault_latency_bpf__open_opts,
							     fault_latency_bpf__destroy, ns_only));
	impl.objects.push_back(make_object<fork_phases_bpf>("fork_phases", fork_phases_bpf__open_opts, fork_phases_bpf__destroy,
							   ns_only));

	impl.vmlinux = btf__load_vmlinux_btf();  // NULL without kernel BTF
	bool have_btf = impl.vmlinux != nullptr;
	FentryCap fentry;
	std::vector<ProbeChoice> choices = choose_all(odf, {opts.allow_fentry, opts.allow_kprobe, opts.allow_tp_btf}, impl.vmlinux, fentry);
	for (auto &o : impl.objects)
		load(o, choices,
		     {{"procs", p->procs_fd_}, {"inflight", p->inflight_fd_}, {"hists", p->hists_fd_}, {"fault_gate", p->gate_fd_}},
		     have_btf, opts.allow_kprobe);
	for (const auto &c : choices)
		p->report_.push_back(attach(c, impl));
	add_capabilities(caps, p->report_, have_btf, fentry);
	return p;
}

void Probes::reset_tables()
{
	ProcTable(procs_fd_).clear();
	delete_every_key(inflight_fd_, sizeof(inflight_key));
}

}  // namespace odfb
