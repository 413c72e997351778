"""benchmarks/site-scale.sh's helper: the generated inventory, one measured ansible-playbook run, its profile.

  site_scale.py inventory KIND N DIR CONNECTION   KIND app (inventories/example's app box, N of them)
                                                  or box (molecule/edge's smallvps-edge-pkg, N = 1)
  site_scale.py run LABEL LOG TIMEOUT -- CMD...   run CMD, print one line of figures (and a JSON one)
  site_scale.py profile LOG [COUNT]               the slowest tasks and the per-role totals of LOG
  site_scale.py table OUTPUT...                   the scale table from site-scale.sh's printed JSON lines

What `run` measures, on this machine (the controller):
  wall   from start to exit of CMD;
  cpu    user+sys of CMD and every descendant it waited for (getrusage(RUSAGE_CHILDREN) delta: this
         process runs nothing else meanwhile): ansible-playbook, its forks, and the `docker exec`
         clients the docker connection starts;
  rss    the process tree sampled every 0.25 s: the peak of the SUM of RSS over the tree (shared
         pages of forked workers counted once per process, an upper bound) and the peak of the sum
         of PSS (shared pages split between their sharers: what the tree really holds), and the
         largest single process (ru_maxrss of the children);
  engine CPU seconds dockerd, containerd and the containers' shims used meanwhile (the docker
         connection's cost that is not the controller's), and the targets' own CPU (cgroup v1
         cpuacct of each container).
"""

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

import yaml

# The checkout measured (site-scale.sh exports one commit there), else the one holding this file.
REPO = os.environ.get("BENCH_SRC") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)"
    r"\s+rescued=(\d+)\s+ignored=(\d+)"
)
TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$")
CHANGED = re.compile(r"^changed: \[([^\]]+)\]( => \(item=.*\))?")
PROFILE_LINE = re.compile(r"^(.*?) -+ (\d+(?:\.\d+)?)s$")
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def inventory(kind, count, directory, connection):
    """Write DIR/hosts.yml, group_vars/ and host_vars/ for KIND; print the host names."""
    os.makedirs(os.path.join(directory, "group_vars"), exist_ok=True)
    os.makedirs(os.path.join(directory, "host_vars"), exist_ok=True)
    demo_app = os.path.join(REPO, "molecule", "shared", "demo_app")
    names = [f"smallvps-bench-{i}" for i in range(1, count + 1)] if kind == "app" else ["smallvps-bench-box"]
    # Per host, not under all: the implicit localhost of the prepare playbooks takes all's variables.
    common = {"ansible_connection": connection, "ansible_user": "root"}
    if kind == "app":
        # inventories/example's app box, its group_vars/app.yml and host_vars/app.example.net.yml as
        # they are; the demo app as the app's code, as molecule/default/inventory/hosts.yml sets it.
        example = os.path.join(REPO, "inventories", "example")
        with open(os.path.join(example, "group_vars", "app.yml")) as f:
            group_vars = {"app": yaml.safe_load(f)}
        with open(os.path.join(example, "host_vars", "app.example.net.yml")) as f:
            box = yaml.safe_load(f)
        box.update(gunicorn_gevent_app_module="smallvps_demo:app", gunicorn_gevent_app_src=demo_app)
        hosts = {"all": {"children": {"app": {"hosts": {n: common for n in names}}}}}
    else:
        # molecule/edge's composed box (groups app, edge_caddy, edge_haproxy), its variables as they are.
        with open(os.path.join(REPO, "molecule", "edge", "molecule.yml")) as f:
            edge = yaml.safe_load(f)["provisioner"]["inventory"]
        group_vars = edge["group_vars"]
        text = yaml.safe_dump(edge["host_vars"]["smallvps-edge-pkg"])
        box = yaml.safe_load(text.replace("${MOLECULE_PROJECT_DIRECTORY}", REPO))
        groups = {g: {"hosts": {n: common for n in names}} for g in ("app", "edge_caddy", "edge_haproxy")}
        hosts = {"all": {"children": groups}}
    with open(os.path.join(directory, "hosts.yml"), "w") as f:
        f.write("---\n" + yaml.safe_dump(hosts, sort_keys=False))
    for group, variables in group_vars.items():
        with open(os.path.join(directory, "group_vars", f"{group}.yml"), "w") as f:
            f.write("---\n" + yaml.safe_dump(variables, sort_keys=False))
    for name in names:
        with open(os.path.join(directory, "host_vars", f"{name}.yml"), "w") as f:
            f.write("---\n" + yaml.safe_dump(box, sort_keys=False))
    print(" ".join(names))


def _procs():
    """{pid: (ppid, comm)} of every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            out[int(entry)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]))
    return out


def _tree(root, procs):
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _memory(pid):
    """(rss, pss) bytes of one process, (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return 0, 0
    values = dict(re.findall(r"^(Rss|Pss):\s+(\d+) kB", text, re.M))
    return int(values.get("Rss", 0)) * 1024, int(values.get("Pss", 0)) * 1024


def _engine_ticks():
    return sum(
        ticks
        for _, comm, ticks in _procs().values()
        if comm in ("dockerd", "containerd") or comm.startswith("containerd-shim")
    )


def _target_ns(hosts):
    total = 0
    for host in hosts:
        cid = subprocess.run(
            ["docker", "inspect", "-f", "{{.Id}}", host], capture_output=True, text=True
        ).stdout.strip()
        for base in (
            "/sys/fs/cgroup/cpu,cpuacct/docker",
            "/sys/fs/cgroup/cpuacct/docker",
            "/sys/fs/cgroup/system.slice",
        ):
            for path in (f"{base}/{cid}/cpuacct.usage", f"{base}/docker-{cid}.scope/cpu.stat"):
                if os.path.exists(path):
                    with open(path) as f:
                        text = f.read()
                    match = re.search(r"usage_usec (\d+)", text)
                    total += int(match.group(1)) * 1000 if match else int(text.split()[0])
                    break
    return total


def parse_log(log):
    """Recap totals and the tasks that reported changed (task name -> hosts)."""
    hosts, changed, task = {}, {}, None
    with open(log, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = TASK.match(line)
            if m:
                task = m.group(1)
                continue
            m = CHANGED.match(line)
            if m and task:
                changed.setdefault(task, set()).add(m.group(1))
                continue
            m = RECAP.match(line)
            if m:
                hosts[m.group(1)] = [int(x) for x in m.groups()[1:]]
    totals = [sum(v[i] for v in hosts.values()) for i in range(7)]
    return hosts, totals, changed


def run(label, log, timeout, cmd, hosts):
    loadavg = open("/proc/loadavg").read().split()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    engine0, target0 = _engine_ticks(), _target_ns(hosts)
    start = time.monotonic()
    peak_rss = peak_pss = peak_procs = 0
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        while proc.poll() is None:
            if time.monotonic() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGTERM)
                time.sleep(5)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            tree = _tree(proc.pid, _procs())
            sizes = [_memory(pid) for pid in tree]
            peak_rss = max(peak_rss, sum(s[0] for s in sizes))
            peak_pss = max(peak_pss, sum(s[1] for s in sizes))
            peak_procs = max(peak_procs, len(tree))
            time.sleep(0.25)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    engine = (_engine_ticks() - engine0) / CLK
    target = (_target_ns(hosts) - target0) / 1e9
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    per_host, totals, changed = parse_log(log)
    figures = {
        "label": label,
        "rc": "timeout" if timed_out else proc.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "user_s": round(after.ru_utime - before.ru_utime, 1),
        "sys_s": round(after.ru_stime - before.ru_stime, 1),
        "rss_sum_peak_mib": round(peak_rss / 2**20),
        "pss_sum_peak_mib": round(peak_pss / 2**20),
        "largest_process_mib": round(after.ru_maxrss / 1024),
        "processes_peak": peak_procs,
        "engine_cpu_s": round(engine, 1),
        "targets_cpu_s": round(target, 1),
        "hosts_in_recap": len(per_host),
        "ok": totals[0],
        "changed": totals[1],
        "unreachable": totals[2],
        "failed": totals[3],
        "load_at_start": loadavg,
    }
    print(
        f"{label}: wall {figures['wall_s']} s, controller CPU {figures['cpu_s']} s "
        f"(user {figures['user_s']}, sys {figures['sys_s']}), tree RSS sum {figures['rss_sum_peak_mib']} MiB / "
        f"PSS sum {figures['pss_sum_peak_mib']} MiB (peak, {peak_procs} processes), largest process "
        f"{figures['largest_process_mib']} MiB; docker engine CPU {figures['engine_cpu_s']} s, targets' CPU "
        f"{figures['targets_cpu_s']} s; recap of {len(per_host)} hosts: ok {totals[0]}, changed {totals[1]}, "
        f"unreachable {totals[2]}, failed {totals[3]}; rc {figures['rc']}; load at start {loadavg}"
    )
    for task, names in changed.items():
        print(f"  changed: {task} on {len(names)} host(s): {', '.join(sorted(names))}")
    print("JSON " + json.dumps(figures))
    return 0 if figures["rc"] == 0 else 1


def profile(log, count=10):
    """profile_tasks' and profile_roles' recaps in LOG: the COUNT slowest tasks, every role's total."""
    blocks, current = {}, None
    with open(log, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("TASKS RECAP") or line.startswith("ROLES RECAP"):
                current = blocks.setdefault(line.split()[0], [])
                continue
            m = PROFILE_LINE.match(line)
            if m and current is not None:
                current.append((m.group(1).strip(), float(m.group(2))))
    tasks, roles = blocks.get("TASKS", []), blocks.get("ROLES", [])
    print(f"tasks profiled: {len(tasks)}, their sum {sum(t for _, t in tasks):.1f} s")
    print(f"{count} slowest tasks:")
    for name, seconds in tasks[:count]:
        print(f"  {seconds:7.2f} s  {name}")
    per_role = {}
    for name, seconds in tasks:
        # profile_roles names a role without its collection; a task outside roles counts as gather_facts.
        role = name.split(" : ", 1)[0].rsplit(".", 1)[-1] if " : " in name else "gather_facts"
        n, total = per_role.get(role, (0, 0.0))
        per_role[role] = (n + 1, total + seconds)
    print("per role (profile_roles' total; tasks and their sum from profile_tasks):")
    for name, seconds in roles:
        n, total = per_role.get(name, (0, 0.0))
        extra = f"  ({n} tasks, {total:.1f} s)" if name != "total" else ""
        print(f"  {seconds:7.2f} s  {name}{extra}")


def table(outputs):
    """One row per run of `matrix`, then the 8-host/1-host wall ratio per mode and run (goal: at most 2)."""
    rows = {}
    for output in outputs:
        with open(output) as f:
            for line in f:
                if line.startswith("JSON "):
                    figures = json.loads(line[5:])
                    # matrix runs only ("linear x8 re-run"), not profile's ("app x1 re-run (linear, profiled)").
                    mode, size, *run = figures["label"].split()
                    if size[1:].isdigit() and run in (["converge"], ["re-run"]):
                        rows[(mode, int(size[1:]), run[0])] = figures
    head = ("mode", "hosts", "run", "wall s", "ctl CPU s", "RSS sum", "PSS sum", "largest", "engine CPU s")
    # floor s: the three CPU figures over this machine's cores, the shortest wall they leave room for.
    head += ("targets CPU s", "floor s", "changed", "failed", "load")
    print("{:<8} {:>5} {:<8} {:>7} {:>9} {:>7} {:>7} {:>7} {:>12} {:>13} {:>7} {:>7} {:>6} {:>5}".format(*head))
    order = {"linear": 0, "free": 1, "mitogen": 2}
    for (mode, size, run), f in sorted(rows.items(), key=lambda r: (order.get(r[0][0], 3), r[0][0], r[0][2], r[0][1])):
        failed = f["failed"] + f["unreachable"]
        cells = (mode, size, run, f["wall_s"], f["cpu_s"], f"{f['rss_sum_peak_mib']}M", f"{f['pss_sum_peak_mib']}M")
        floor = round((f["cpu_s"] + f["engine_cpu_s"] + f["targets_cpu_s"]) / os.cpu_count(), 1)
        cells += (f"{f['largest_process_mib']}M", f["engine_cpu_s"], f["targets_cpu_s"], floor, f["changed"], failed)
        cells += (f["load_at_start"] if f["rc"] == 0 else f"rc {f['rc']}",)
        print("{:<8} {:>5} {:<8} {:>7} {:>9} {:>7} {:>7} {:>7} {:>12} {:>13} {:>7} {:>7} {:>6} {:>5}".format(*cells))
    for (mode, size, run), f in sorted(rows.items(), key=lambda r: (order.get(r[0][0], 3), r[0][0], r[0][2], r[0][1])):
        one = rows.get((mode, 1, run))
        if size > 1 and one:
            ratio = f["wall_s"] / one["wall_s"]
            verdict = "meets" if ratio <= 2 else "misses"
            print(
                f"{mode} {run}: {size} hosts / 1 host wall = {f['wall_s']} / {one['wall_s']} = {ratio:.2f}"
                f" ({verdict} the goal, at most 2)"
            )


def main(argv):
    if argv[0] == "inventory":
        inventory(argv[1], int(argv[2]), argv[3], argv[4])
    elif argv[0] == "run":
        split = argv.index("--")
        label, log, timeout = argv[1], argv[2], float(argv[3])
        hosts = os.environ.get("BENCH_HOSTS", "").split()
        return run(label, log, timeout, argv[split + 1 :], hosts)
    elif argv[0] == "table":
        table(argv[1:])
    elif argv[0] == "profile":
        profile(argv[1], int(argv[2]) if len(argv) > 2 else 10)
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
