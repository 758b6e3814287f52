#!/usr/bin/python3
"""tent's benchmark driver (issue 6): measures tent against the raw engine and
against Distrobox and Toolbx on this machine, and prints a table and a JSON
file. `bench/run` builds tent, picks the user and environment, and calls this.

Why Python and not hyperfine: the candidates of a case are interleaved round
by round (A B C, B C A, C A B ...), so a burst of load from other processes
hits every candidate alike; hyperfine runs all of A before B. Each sample is
one posix_spawn + wait4 with stdio on /dev/null, so every candidate carries
the same (small) spawn cost, and wait4 gives peak RSS for free.

Standard library only. Runs as the user whose boxes are measured, with the
environment `bench/run` gives it; it never removes a container or image it
did not create (names carry this run's tag), and cleans up on exit, Ctrl-C
and SIGTERM.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BUDGETS = {
    # case id: (limit, what the budget says)
    # enter and run join the box's namespaces (src/runtime/join.rs): no engine client.
    "enter": (0.15, "warm enter (namespace join) <= 0.15x raw engine exec"),
    "run": (0.15, "warm run (namespace join) <= 0.15x raw engine exec"),
    "run-engine": (1.05, "warm run through the engine (TENT_EXEC=engine) <= 1.05x raw engine exec"),
    "list-1": (1.10, "list <= 1.1x the engine's own list"),
    "list-20": (1.10, "list <= 1.1x the engine's own list"),
    "create-baked": (2.0, "create + first enter from a baked image <= 2x raw run --rm"),
    "wrapper": (0.2, "exported wrapper <= 0.2x raw engine exec"),
    # issue 24: what users wait for besides a warm command.
    "startup": (2.5, "tent's own start-up (engine = /bin/true) <= 2.5x /bin/true"),
    "list-100": (1.10, "list with 100 boxes <= 1.1x the engine's own list"),
    "save": (0.8, "save <= 0.8x commit + save | gzip -1 (time)"),
    "save-size": (1.0, "save's file <= 1.0x commit + save | gzip -1's (size)"),
    "load": (1.2, "load (box removed) <= 1.2x gunzip | load + create + start"),
    "snapshot": (1.1, "snapshot of a running box <= 1.1x commit"),
    "rollback": (1.5, "rollback + first exec <= 1.5x create + start + first exec"),
    "cold": (1.2, "first command after `tent stop` <= 1.2x start + exec true"),
    "upgrade": (1.5, "upgrade with nothing to upgrade <= 1.5x the package manager's own no-op"),
    # An absolute budget: seconds, not a ratio.
    "doctor-500": (0.5, "doctor with 500 exports <= 0.5 s"),
}
# Budgets in seconds (the rest are ratios to the case's baseline).
ABSOLUTE = {"doctor-500"}


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


# ---- running things ---------------------------------------------------------

class Failed(Exception):
    pass


def spawn(argv, stderr_path, env=None):
    """Runs argv once with stdio on /dev/null (stderr to a file); returns
    (seconds, status, peak RSS KiB of it and its reaped descendants)."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, env or os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - t0
    return elapsed, os.waitstatus_to_exitcode(status), usage.ru_maxrss


def peak_rss(argv, w, env=None, runs=5):
    """Peak RSS in KiB (max over runs) from GNU time's fork + wait4."""
    out = os.path.join(w.tmp, "rss")
    peak = 0
    for _ in range(runs):
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out, *argv], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True)
        if p.returncode != 0:
            raise Failed(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.decode(errors='replace')[-300:]}")
        with open(out) as f:
            peak = max(peak, int(f.read().split()[-1]))
    return peak


def sh(argv, check=True, quiet=False):
    """An untimed helper command; returns its stdout."""
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise Failed(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()[-600:]}")
    if not quiet and p.returncode != 0:
        log(f"(ignored) {' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()[-200:]}")
    return p.stdout


class Candidate:
    """One thing being timed: one or more argv run in sequence (all timed),
    and an untimed cleanup after each sample."""

    def __init__(self, label, steps, cleanup=None, prepare=None, env=None, ok_codes=(0,)):
        self.label = label
        self.ok_codes = ok_codes
        self.env = dict(os.environ, **env) if env else None
        self.steps = steps          # list of argv, or a callable(i) -> list of argv
        self.cleanup = cleanup      # callable(i) or None
        self.prepare = prepare      # callable(i) or None, untimed, before the sample
        self.times = []
        self.rss = []

    def sample(self, i, errfile):
        if self.prepare:
            self.prepare(i)
        steps = self.steps(i) if callable(self.steps) else self.steps
        total, peak = 0.0, 0
        try:
            for argv in steps:
                secs, code, rss = spawn(argv, errfile, self.env)
                total += secs
                peak = max(peak, rss)
                if code not in self.ok_codes:
                    with open(errfile, errors="replace") as f:
                        err = f.read().strip()[-800:]
                    raise Failed(f"{' '.join(argv)} exited {code}: {err}")
        finally:
            if self.cleanup:
                self.cleanup(i)
        return total, peak


def measure(candidates, runs, warmup, errfile, progress=""):
    """Interleaved rounds; the order rotates each round."""
    n = len(candidates)
    for r in range(warmup + runs):
        order = candidates[r % n:] + candidates[:r % n]
        for c in order:
            secs, _rss = c.sample(r, errfile)
            if r >= warmup:
                c.times.append(secs)
        if progress:
            print(f"\r    {progress}: round {r + 1}/{warmup + runs}", end="", file=sys.stderr, flush=True)
    if progress:
        print("", file=sys.stderr)


def quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(c, base=None):
    s = {
        "label": c.label,
        "runs": len(c.times),
        "median_ms": statistics.median(c.times) * 1000,
        "p25_ms": quantile(c.times, 0.25) * 1000,
        "p75_ms": quantile(c.times, 0.75) * 1000,
        "min_ms": min(c.times) * 1000,
        "samples_ms": [round(t * 1000, 3) for t in c.times],
    }
    if base is not None and base is not c:
        s["ratio"] = statistics.median(c.times) / statistics.median(base.times)
        # Ratio of each round's pair: robust to load that drifts during the run.
        paired = [a / b for a, b in zip(c.times, base.times)]
        s["paired_ratio_p25"] = quantile(paired, 0.25)
        s["paired_ratio_p75"] = quantile(paired, 0.75)
    return s


# ---- the world: engine, tent, peers -----------------------------------------

class World:
    def __init__(self, args):
        self.args = args
        self.tent = args.tent
        self.engine = args.engine_client
        self.kind = "docker" if os.path.basename(self.engine).startswith("docker") else "podman"
        self.image = args.image
        # Podman stores imported images as localhost/NAME; peers resolve short
        # names through registries (and may prompt), so they get the full name.
        first = self.image.split("/")[0]
        qualified = "." in first or ":" in first or first == "localhost"
        self.peer_image = self.image if qualified or self.kind != "podman" else f"localhost/{self.image}"
        self.tag = f"tb{os.getpid()}"
        self.made_containers = []   # engine names this run created
        self.made_images = []
        self.data_dirs = []        # big files (box files), in HOME rather than /tmp
        self.last_raw_image = None
        self.tmp = tempfile.mkdtemp(prefix="tent-bench-")
        self.errfile = os.path.join(self.tmp, "stderr")
        self.n = 0

    def name(self, what):
        self.n += 1
        return f"{self.tag}-{what}-{self.n}"

    def forget(self, name):
        if name in self.made_containers:
            self.made_containers.remove(name)

    def rm_container(self, name):
        sh([self.engine, "rm", "--force", name], check=False, quiet=True)
        self.forget(name)

    def tent_rm(self, name):
        p = subprocess.run([self.tent, "rm", "--force", "--yes", name], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.rm_container(name)
        self.forget(name)

    def cleanup(self):
        for name in list(self.made_containers):
            if self.args.peer_rm.get(name):
                subprocess.run(self.args.peer_rm[name], stdin=subprocess.DEVNULL, capture_output=True)
            self.tent_rm(name)
            # Snapshots (and saves, upgrades) of this run's boxes.
            ids = sh([self.engine, "images", "-q", "--no-trunc", "--filter", f"label=tent.snapshot.box={name}"],
                     check=False, quiet=True).split()
            for image in sorted(set(ids)):
                sh([self.engine, "rmi", "--force", image], check=False, quiet=True)
        for image in self.made_images:
            sh([self.engine, "rmi", "--force", image], check=False, quiet=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        for d in self.data_dirs:
            shutil.rmtree(d, ignore_errors=True)

    def tent_create(self, name, image=None, extra=()):
        self.made_containers.append(name)
        sh([self.tent, "create", name, "--image", image or self.image, *extra])

    def machine(self):
        def read(path):
            try:
                with open(path) as f:
                    return f.read()
            except OSError:
                return ""
        cpu = next((l.split(":", 1)[1].strip() for l in read("/proc/cpuinfo").splitlines()
                    if l.startswith("model name")), platform.machine())
        mem = next((l.split(":", 1)[1].strip() for l in read("/proc/meminfo").splitlines()
                    if l.startswith("MemTotal")), "")
        os_name = next((l.split("=", 1)[1].strip('"') for l in read("/etc/os-release").splitlines()
                        if l.startswith("PRETTY_NAME=")), "")
        return {
            "os": os_name,
            "kernel": platform.release(),
            "cpu": cpu,
            "cores": os.cpu_count(),
            "memory": mem,
            "loadavg_start": read("/proc/loadavg").split()[:3],
            "user": sh(["id", "-un"]).strip(),
        }

    def versions(self):
        v = {"tent": sh([self.tent, "--version"], check=False).strip().removeprefix("tent "),
             "tent_commit": self.args.commit}
        if self.kind == "podman":
            out = sh([self.engine, "version", "--format", "json"], check=False)
            try:
                j = json.loads(out)
                v["podman"] = j.get("Client", {}).get("Version")
            except ValueError:
                v["podman"] = out.strip()
            info = sh([self.engine, "info", "--format", "{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}} rootless={{.Host.Security.Rootless}}"], check=False)
            v["podman_info"] = info.strip()
        else:
            v["docker"] = sh([self.engine, "version", "--format", "client {{.Client.Version}} server {{.Server.Version}}"], check=False).strip()
            v["docker_info"] = sh([self.engine, "info", "--format", "{{.DefaultRuntime}} {{.Driver}} cgroup={{.CgroupDriver}}"], check=False).strip()
        for peer, cmd in (("distrobox", ["distrobox", "version"]), ("toolbox", ["toolbox", "--version"]),
                          ("distrobox-1.8", [self.args.distrobox18 or "distrobox-1.8", "version"])):
            if shutil.which(cmd[0]):
                last = (sh(cmd, check=False).strip().splitlines() or [""])[-1]
                v[peer] = last.split()[-1] if last else ""
        return v


# ---- peers ------------------------------------------------------------------

class Peer:
    """How a peer does the same things; `why_not` says why it is skipped."""

    def __init__(self, key, world):
        self.key = key
        self.w = world
        self.why_not = None
        # distrobox-1.8: Distrobox 1.8.2.5's scripts from ../shared/peers
        # (bench/run copies them), next to Debian's 1.4 from bench/setup-peers.
        self.exe = {"distrobox": "distrobox", "toolbox": "toolbox",
                    "distrobox-1.8": world.args.distrobox18 or "distrobox-1.8"}[key]
        if not shutil.which(self.exe):
            self.why_not = (f"{self.exe} is not there (../shared/peers/distrobox-1.8.2.5, copied by bench/run)"
                            if key == "distrobox-1.8" else f"{self.exe} is not installed (bench/setup-peers installs it)")
        elif key == "toolbox" and world.kind != "podman":
            self.why_not = "Toolbx works with podman only"
        elif key == "toolbox" and os.geteuid() == 0:
            self.why_not = "Toolbx is for rootless podman"
        elif key == "toolbox" and not os.path.exists(
                os.path.join(os.environ["HOME"], ".config/toolbox/podman-system-migrate")):
            # Toolbx runs `podman system migrate` on its first run for a podman
            # version, and that stops every running container of the user.
            self.why_not = ("Toolbx has not run for this user and podman version yet: its first run does "
                            "`podman system migrate`, which stops every running container of the user; "
                            "run `toolbox list` once yourself, then benchmark again")

    def is_distrobox(self):
        return self.key.startswith("distrobox")

    def env_prefix(self):
        # Distrobox picks its engine from DBX_CONTAINER_MANAGER, and runs its
        # other scripts (distrobox-enter ...) from PATH.
        if self.is_distrobox():
            path = os.environ.get("PATH", "")
            if "/" in self.exe:
                path = f"{os.path.dirname(self.exe)}:{path}"
            if "/" in self.w.engine:
                path = f"{os.path.dirname(self.w.engine)}:{path}"
            return ["env", f"DBX_CONTAINER_MANAGER={self.w.kind}", f"PATH={path}"]
        return []

    def create(self, name, image):
        if self.is_distrobox():
            return self.env_prefix() + [self.exe, "create", "--yes", "--name", name, "--image", image]
        return ["toolbox", "create", "--image", image, name]

    def enter(self, name):
        if self.is_distrobox():
            return self.env_prefix() + [self.exe, "enter", name, "--", "true"]
        return ["toolbox", "run", "--container", name, "true"]

    def list(self):
        if self.is_distrobox():
            return self.env_prefix() + [self.exe, "list"]
        return ["toolbox", "list", "--containers"]

    def rm(self, name):
        if self.is_distrobox():
            return self.env_prefix() + [self.exe, "rm", "--force", name]
        return ["toolbox", "rm", "--force", name]


# ---- the cases ----------------------------------------------------------------

def engine_exec(w, name):
    return [w.engine, "exec", name, "true"]


def run_case(results, cid, title, candidates, base, runs, warmup, w, note=None):
    log(f"{cid}: {title}")
    try:
        measure(candidates, runs, warmup, w.errfile, progress=cid)
    except Failed as e:
        print("", file=sys.stderr)
        log(f"{cid}: failed: {e}")
        results.append({"id": cid, "title": title, "error": str(e)})
        return None
    rows = [summary(c, base) for c in candidates]
    entry = {"id": cid, "title": title, "baseline": base.label, "candidates": rows}
    if note:
        entry["note"] = note
    if cid in BUDGETS and cid in ABSOLUTE:
        limit, text = BUDGETS[cid]
        secs = rows[0]["median_ms"] / 1000
        entry["budget"] = {"limit": limit, "text": text, "seconds": secs, "holds": secs <= limit}
    elif cid in BUDGETS:
        limit, text = BUDGETS[cid]
        # The first measured row that is tent's (not a peer's, not the baseline).
        tent_row = next(r for r in rows if "ratio" in r and not r["label"].startswith(("distrobox", "toolbox")))
        entry["budget"] = {"limit": limit, "text": text, "ratio": tent_row["ratio"],
                           "holds": tent_row["ratio"] <= limit}
    results.append(entry)
    return entry


def unavailable(results, cid, title, why):
    log(f"{cid}: not available: {why}")
    results.append({"id": cid, "title": title, "unavailable": why})


def warm_cases(w, peers, results):
    """enter, run, RSS and start-up overhead, on one running box per tool."""
    box = w.name("warm")
    w.tent_create(box)
    sh([w.tent, "enter", box, "--", "true"])

    cands = [Candidate(f"{w.kind} exec", [engine_exec(w, box)]),
             Candidate("tent enter", [[w.tent, "enter", box, "--", "true"]])]
    peer_boxes = {}
    for p in peers:
        if p.why_not:
            continue
        pbox = w.name(p.key)
        w.made_containers.append(pbox)
        w.args.peer_rm[pbox] = p.rm(pbox)
        try:
            sh(p.create(pbox, w.peer_image))
            sh(p.enter(pbox))   # first enter: the peer's own set-up
            peer_boxes[p.key] = pbox
        except Failed as e:
            p.why_not = f"could not create or enter a box: {str(e).strip().splitlines()[-1][-300:]}"
            log(f"{p.key}: {p.why_not}")
    for key, pbox in peer_boxes.items():
        peer = next(p for p in peers if p.key == key)
        cands.append(Candidate(f"{key} enter", [peer.enter(pbox)]))
    run_case(results, "enter", f"warm `enter BOX -- true` vs `{w.kind} exec BOX true`",
             cands, cands[0], w.args.runs, w.args.warmup, w,
             note="peers run in their own box of the same image; each ratio is to the raw exec on tent's box")

    # tent run and the exact argv tent execs: separates tent's own cost from
    # the cost of what it asks the engine to do (user, env, tent-exec).
    out = subprocess.run([w.tent, "-v", "run", box, "--", "true"], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, env=dict(os.environ, TENT_EXEC="engine"))
    argv_line = next((l[2:] for l in out.stderr.splitlines() if l.startswith("$ ")), None)
    cands = [Candidate(f"{w.kind} exec", [engine_exec(w, box)]),
             Candidate("tent run", [[w.tent, "run", box, "--", "true"]])]
    note = None
    if argv_line:
        import shlex
        exact = shlex.split(argv_line)
        cands.append(Candidate("tent's exec argv, run directly", [exact]))
        note = f"tent's exec argv: {argv_line}"
    run_case(results, "run", f"warm `run BOX -- true` vs `{w.kind} exec BOX true`",
             cands[:2], cands[0], w.args.runs, w.args.warmup, w)

    # The engine path, which stays the fallback (Docker as a plain user,
    # --root through sudo, a refused setns): TENT_EXEC=engine forces it.
    cands = [Candidate(f"{w.kind} exec", [engine_exec(w, box)]),
             Candidate("tent run, TENT_EXEC=engine", [[w.tent, "run", box, "--", "true"]],
                       env={"TENT_EXEC": "engine"})] + cands[2:]
    run_case(results, "run-engine", f"warm `TENT_EXEC=engine run BOX -- true` vs `{w.kind} exec BOX true`",
             cands, cands[0], w.args.runs, w.args.warmup, w, note=note)

    shim, tent_shim = startup_case(w, results, box)

    # Peak RSS, with GNU time (fork + wait4 in a small process: a posix_spawn
    # from Python would charge Python's own RSS to the child across exec).
    # tent execs the engine's client, so the peak of a whole `tent enter` is
    # max(tent, client); tent's own peak is seen with /bin/true as the client.
    if shutil.which("time") or os.path.exists("/usr/bin/time"):
        shim_env = dict(os.environ, TENT_ENGINE=shim, TENT_EXEC="engine")
        rss = {
            f"{w.kind} exec (whole)": peak_rss(engine_exec(w, box), w),
            "tent run, joined (whole: tent, tent-exec's sh, true)": peak_rss([w.tent, "run", box, "--", "true"], w),
            "tent enter, engine path (whole: tent, then the client)":
                peak_rss([w.tent, "enter", box, "--", "true"], w, dict(os.environ, TENT_EXEC="engine")),
            "tent alone (engine = /bin/true)": peak_rss(tent_shim, w, shim_env),
            "/bin/true alone": peak_rss([shim], w),
        }
        log("peak RSS (KiB): " + ", ".join(f"{k} {v}" for k, v in rss.items()))
        results.append({"id": "rss", "title": "peak RSS during a warm enter (max of 5 runs, KiB)", "values_kib": rss})
    else:
        unavailable(results, "rss", "peak RSS", "/usr/bin/time is not installed (bench/setup-peers installs it)")
    return box


def startup_case(w, results, box):
    """tent's own start-up: `tent run` with the engine replaced by /bin/true."""
    # tent's own cost before the exec: the same `tent run` with the engine
    # client replaced by a copy of /bin/true, so only tent's start-up, state
    # check and argv building are timed (tent's row minus /bin/true's row).
    shim_dir = os.path.join(w.tmp, "shim")
    os.makedirs(shim_dir)
    shim = os.path.join(shim_dir, w.kind)
    shutil.copy("/bin/true", shim)
    tent_shim = [w.tent, "run", box, "--", "true"]
    cands = [Candidate("/bin/true (as the engine)", [[shim]]),
             Candidate("tent run, engine = /bin/true", [tent_shim], env={"TENT_ENGINE": shim, "TENT_EXEC": "engine"})]
    e = run_case(results, "startup", "tent's own work before it execs the engine (engine replaced by /bin/true)",
                 cands, cands[0], w.args.runs, w.args.warmup, w,
                 note="tent's overhead = tent row minus /bin/true row")
    if e:
        rows = e["candidates"]
        e["tent_overhead_ms"] = rows[1]["median_ms"] - rows[0]["median_ms"]

    return shim, tent_shim


def list_cases(w, peers, results, first_box):
    # Compare with the whole store as it is: other containers count for both.
    base_argv = [w.engine, "ps", "-a", "--format", "json"] if w.kind == "podman" else [w.engine, "ps", "-a"]
    live_peers = [p for p in peers if not p.why_not]
    have = 1
    for count in sorted(int(c) for c in w.args.list_counts.split(",")):
        if count > have:
            log(f"creating {count - have} more boxes (--no-start)")
            for _ in range(count - have):
                w.tent_create(w.name("list"), extra=["--no-start"])
            have = count
        total = len([l for l in sh([w.engine, "ps", "-a", "-q"]).splitlines() if l.strip()])
        cands = [Candidate(" ".join(["podman" if w.kind == "podman" else "docker"] + base_argv[1:]), [base_argv]),
                 Candidate("tent list", [[w.tent, "list"]]),
                 Candidate("tent list --json", [[w.tent, "list", "--json"]])]
        if w.kind == "podman":
            # The call tent makes, to separate tent's own cost from the label filter's.
            cands.append(Candidate("tent's ps argv, run directly",
                                   [[w.engine, "ps", "--all", "--filter", "label=tent.format", "--format", "json"]]))
        for p in live_peers:
            cands.append(Candidate(f"{p.key} list", [p.list()]))
        run_case(results, f"list-{count}", f"`list` with {count} tent box(es) ({total} containers in the store)",
                 cands, cands[0], w.args.runs, w.args.warmup, w,
                 note=f"{total} containers in the store during this case (the peers' boxes and other users' containers count for every candidate)")


def create_cases(w, peers, results):
    raw = Candidate(f"{w.kind} run --rm --network host IMAGE true",
                    [[w.engine, "run", "--rm", "--network", "host", w.image, "true"]])

    def tent_create_enter(image, label):
        names = {}

        def steps(i):
            names[i] = w.name("create")
            w.made_containers.append(names[i])
            return [[w.tent, "create", names[i], "--image", image], [w.tent, "enter", names[i], "--", "true"]]

        return Candidate(label, steps, cleanup=lambda i: w.tent_rm(names[i]))

    cands = [raw, tent_create_enter(w.image, "tent create + enter (plain image)")]
    for p in peers:
        if p.why_not:
            continue

        def pcand(p=p):
            names = {}

            def steps(i):
                names[i] = w.name(p.key)
                w.made_containers.append(names[i])
                w.args.peer_rm[names[i]] = p.rm(names[i])
                return [p.create(names[i], w.peer_image), p.enter(names[i])]

            def cleanup(i):
                subprocess.run(p.rm(names[i]), stdin=subprocess.DEVNULL, capture_output=True)
                w.rm_container(names[i])
            return Candidate(f"{p.key} create + enter (plain image)", steps, cleanup=cleanup)
        cands.append(pcand())
    run_case(results, "create-plain", "create + first `enter -- true` from a plain image vs raw `run --rm`",
             cands, raw, w.args.slow_runs, 0, w,
             note="a plain image is provisioned at first start (packages from the network); no warm-up round")

    # Baked image: only when `tent bake` works.
    why = None
    if subprocess.run([w.tent, "bake", "--help"], capture_output=True).returncode != 0:
        why = "`tent bake --help` fails"
    baked = f"localhost/{w.tag}-baked:latest"
    if not why:
        p = subprocess.run([w.tent, "bake", w.image, "--tag", baked], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True)
        if p.returncode != 0:
            why = f"`tent bake` failed: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}"
        else:
            w.made_images.append(baked)
    if why:
        unavailable(results, "create-baked", "create + first `enter -- true` from a baked image", why)
        return
    raw2 = Candidate(raw.label, raw.steps)
    cands = [raw2, tent_create_enter(baked, "tent create + enter (baked image)")]
    run_case(results, "create-baked", "create + first `enter -- true` from a baked image vs raw `run --rm`",
             cands, raw2, w.args.runs_create, 1, w)


def atomic_cases(w, results):
    """Issue 24: save, load, snapshot, rollback, cold start and a no-op
    upgrade, each against doing the same by hand with the engine."""
    e = w.engine
    which = set(w.args.atomic.split(","))
    box = w.name("atomic")
    w.tent_create(box)
    sh([w.tent, "enter", box, "--", "true"])
    # Real files in the box's system, as a box that was worked in has.
    out = sh([w.tent, "run", box, "--as-root", "--", "sh", "-c",
              f"cp -a {w.args.save_data} /opt/tent-bench-data && du -sm /opt/tent-bench-data"])
    log(f"{box}: {out.split()[0] if out.split() else '?'} MB of files copied from {w.args.save_data} into its system")
    data = tempfile.mkdtemp(prefix="tent-bench-files-", dir=os.environ["HOME"])
    w.data_dirs.append(data)
    runs = w.args.slow_runs
    fmt = ["--format", "docker-archive"] if w.kind == "podman" else []
    sizes = {"raw": [], "tent": [], "thin": []}

    def raw_save(i):
        img = f"localhost/{w.tag}-rawsave:{i}"
        w.made_images.append(img)
        return [[e, "commit", box, img],
                ["sh", "-c", f"{e} save {' '.join(fmt)} {img} | gzip -1 > {data}/raw-{i}.tar.gz"]]

    def raw_save_done(i):
        path = f"{data}/raw-{i}.tar.gz"
        if os.path.exists(path):
            sizes["raw"].append(os.path.getsize(path))
            os.replace(path, f"{data}/raw.tar.gz")
        # The last file is loaded below (the archive names this image).
        w.last_raw_image = f"localhost/{w.tag}-rawsave:{i}"
        sh([e, "rmi", "--force", w.last_raw_image], check=False, quiet=True)

    def tent_save_done(i):
        path = f"{data}/tent-{i}.tent"
        if os.path.exists(path):
            sizes["tent"].append(os.path.getsize(path))
            os.replace(path, f"{data}/tent.tent")

    def thin_save_done(i):
        path = f"{data}/thin-{i}.tent"
        if os.path.exists(path):
            sizes["thin"].append(os.path.getsize(path))
            os.remove(path)

    def plain_save(i):
        img = f"localhost/{w.tag}-plainsave:{i}"
        w.made_images.append(img)
        return [[e, "commit", box, img], ["sh", "-c", f"{e} save {' '.join(fmt)} {img} > {data}/plain-{i}.tar"]]

    def plain_save_done(i):
        sh([e, "rmi", "--force", f"localhost/{w.tag}-plainsave:{i}"], check=False, quiet=True)
        if os.path.exists(f"{data}/plain-{i}.tar"):
            os.remove(f"{data}/plain-{i}.tar")

    cands = [] if "save" not in which else [Candidate(f"{w.kind} commit + save | gzip -1", raw_save, cleanup=raw_save_done),
             Candidate("tent save", lambda i: [[w.tent, "save", box, "-o", f"{data}/tent-{i}.tent"]],
                       cleanup=tent_save_done),
             # No budget: the file for a machine that has the box's image.
             Candidate("tent save --without-base",
                       lambda i: [[w.tent, "save", box, "-o", f"{data}/thin-{i}.tent", "--without-base"]],
                       cleanup=thin_save_done),
             # The floor: the engine's own commit and save, nothing compressed.
             Candidate(f"{w.kind} commit + save > file (uncompressed)", plain_save, cleanup=plain_save_done)]
    entry = cands and run_case(results, "save", "`tent save` vs commit + save | gzip -1 (the box's whole system)",
                               cands, cands[0], runs, 0, w)
    if entry and sizes["raw"] and sizes["tent"]:
        raw_mb = statistics.median(sizes["raw"]) / 2**20
        tent_mb = statistics.median(sizes["tent"]) / 2**20
        limit, text = BUDGETS["save-size"]
        mib = {"raw": raw_mb, "tent": tent_mb}
        if sizes["thin"]:
            mib["thin"] = statistics.median(sizes["thin"]) / 2**20
        results.append({"id": "save-size", "title": "the file `tent save` writes vs save | gzip -1's",
                        "sizes_mib": mib,
                        "budget": {"limit": limit, "text": text, "ratio": tent_mb / raw_mb,
                                   "holds": tent_mb / raw_mb <= limit}})

    # load, the box (and its image) removed before each sample.
    raw_file, tent_file = f"{data}/raw.tar.gz", f"{data}/tent.tent"
    if "load" not in which:
        pass
    elif os.path.exists(raw_file) and os.path.exists(tent_file):
        names = {}

        def image_of(name):
            return sh([e, "container", "inspect", "--format", "{{.Image}}", name], check=False, quiet=True).strip()

        def raw_load(i):
            names[i] = w.name("rawload")
            w.made_containers.append(names[i])
            return [["sh", "-c", f"gzip -dc {raw_file} | {e} load"],
                    [e, "create", "--network", "host", "--entrypoint", "sleep", "--name", names[i], w.last_raw_image, "infinity"],
                    [e, "start", names[i]]]

        def raw_load_done(i):
            image = image_of(names[i])
            w.rm_container(names[i])
            sh([e, "rmi", "--force", w.last_raw_image], check=False, quiet=True)
            if image:
                sh([e, "rmi", "--force", image], check=False, quiet=True)

        def tent_load(i):
            names[i] = w.name("load")
            w.made_containers.append(names[i])
            return [[w.tent, "load", tent_file, "--name", names[i], "--yes"]]

        def tent_load_done(i):
            image = image_of(names[i])
            w.tent_rm(names[i])
            if image:
                sh([e, "rmi", "--force", image], check=False, quiet=True)

        cands = [Candidate(f"gunzip | {w.kind} load + create + start", raw_load, cleanup=raw_load_done),
                 Candidate("tent load", tent_load, cleanup=tent_load_done)]
        run_case(results, "load", "`tent load` (box removed) vs gunzip | load + create + start",
                 cands, cands[0], runs, 0, w)
    else:
        unavailable(results, "load", "tent load", "no files from the save case")

    # snapshot of the running box vs commit.
    n_atomic = w.args.runs_atomic

    def raw_commit(i):
        img = f"localhost/{w.tag}-commit:{i}"
        w.made_images.append(img)
        return [[e, "commit", box, img]]

    if "snapshot" in which:
        snapshot_case(w, results, box, raw_commit, n_atomic)
    if "rollback" in which:
        rollback_case(w, results, box, n_atomic)
    if "cold" in which:
        cold_case(w, results, box, n_atomic)
    if "upgrade" in which:
        upgrade_case(w, results, box, n_atomic)


def snapshot_case(w, results, box, raw_commit, n_atomic):
    e = w.engine
    cands = [Candidate(f"{w.kind} commit", raw_commit,
                       cleanup=lambda i: sh([e, "rmi", "--force", f"localhost/{w.tag}-commit:{i}"], check=False, quiet=True)),
             Candidate("tent snapshot", lambda i: [[w.tent, "snapshot", box, f"bench-{i}"]],
                       cleanup=lambda i: sh([w.tent, "snapshot", box, "--delete", f"bench-{i}"], check=False))]
    run_case(results, "snapshot", "`tent snapshot` of a running box vs commit", cands, cands[0], n_atomic, 1, w)


def rollback_case(w, results, box, n_atomic):
    """rollback vs create + start + first exec on the snapshot's image."""
    e = w.engine
    sh([w.tent, "snapshot", box, "bench-base"])
    snap_image = f"localhost/{w.tag}-rollback:base"
    w.made_images.append(snap_image)
    sh([e, "commit", box, snap_image])
    rnames = {}

    def raw_create(i):
        rnames[i] = w.name("rawcreate")
        w.made_containers.append(rnames[i])
        return [[e, "create", "--network", "host", "--entrypoint", "sleep", "--name", rnames[i], snap_image, "infinity"],
                [e, "start", rnames[i]], [e, "exec", rnames[i], "true"]]

    cands = [Candidate(f"{w.kind} create --network host --entrypoint sleep IMAGE infinity + start + exec true", raw_create,
                       cleanup=lambda i: w.rm_container(rnames[i])),
             Candidate("tent rollback + tent run -- true",
                       [[w.tent, "rollback", box, "bench-base", "--yes"], [w.tent, "run", box, "--", "true"]])]
    run_case(results, "rollback", "`tent rollback` + first command vs create + start + first exec",
             cands, cands[0], n_atomic, 1, w,
             note="the raw create runs `sleep infinity` (as the entrypoint) in the snapshot's image, without tent's mounts and init")


def cold_case(w, results, box, n_atomic):
    """cold start: the first command after `tent stop`."""
    e = w.engine
    stop = lambda i: sh([w.tent, "stop", box], check=False)
    cands = [Candidate(f"{w.kind} start + exec true", [[e, "start", box], [e, "exec", box, "true"]], prepare=stop),
             Candidate("tent run -- true (box stopped)", [[w.tent, "run", box, "--", "true"]], prepare=stop)]
    run_case(results, "cold", "first command after `tent stop` vs start + exec", cands, cands[0], n_atomic, 1, w)
    sh([w.tent, "enter", box, "--", "true"])


def upgrade_case(w, results, box, n_atomic):
    """A no-op upgrade vs the package manager's own no-op (Debian: apt)."""
    e = w.engine
    raw_upgrade = [e, "exec", "--user", "root", box, "sh", "-c",
                   "apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q -y dist-upgrade"]
    cands = [Candidate("apt-get update && apt-get dist-upgrade (in the box)", [raw_upgrade]),
             Candidate("tent upgrade --yes", [[w.tent, "upgrade", box, "--yes"]])]
    run_case(results, "upgrade", "`tent upgrade` with nothing to upgrade vs apt's own no-op",
             cands, cands[0], n_atomic, 1, w,
             note="tent upgrade asks apt first (update + simulate) and takes a snapshot only when there is something to upgrade")


def doctor_case(w, results):
    box = w.name("doctor")
    w.tent_create(box)
    n = w.args.doctor_exports
    log(f"{box}: exporting {n} commands")
    for k in range(n):
        sh([w.tent, "export", box, "--bin", "/usr/bin/true", "--name", f"{w.tag}-d{k}"])
    cands = [Candidate(f"tent doctor ({n} exports)", [[w.tent, "doctor"]], ok_codes=(0, 1))]
    run_case(results, f"doctor-{n}", f"`tent doctor` with {n} exports (seconds, no baseline)",
             cands, cands[0], w.args.runs_atomic, 1, w, note="exit status 1 (problems found) is accepted")
    w.tent_rm(box)


def wrapper_case(w, results, box):
    title = "exported wrapper vs the raw engine exec (and `tent run`)"
    if subprocess.run([w.tent, "export", "--help"], capture_output=True).returncode != 0:
        unavailable(results, "wrapper", title, "`tent export --help` fails")
        return
    bindir = os.environ.get("XDG_BIN_HOME") or os.path.join(os.environ["HOME"], ".local/bin")
    before = set(os.listdir(bindir)) if os.path.isdir(bindir) else set()
    p = subprocess.run([w.tent, "export", box, "--bin", "/usr/bin/true", "--name", f"{w.tag}-true"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode != 0:
        unavailable(results, "wrapper", title,
                    f"`tent export --bin` failed: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}")
        return
    after = set(os.listdir(bindir)) if os.path.isdir(bindir) else set()
    new = sorted(after - before)
    if not new:
        unavailable(results, "wrapper", title, f"export succeeded but no new file in {bindir}")
        return
    wrapper = os.path.join(bindir, new[0])
    cands = [Candidate(f"{w.kind} exec", [engine_exec(w, box)]),
             Candidate("exported wrapper", [[wrapper]]),
             Candidate("tent run", [[w.tent, "run", box, "--", "/usr/bin/true"]])]
    run_case(results, "wrapper", title, cands, cands[0], w.args.runs, w.args.warmup, w)
    # Exporting looks into the box (is the command there, is it not a tent
    # wrapper): through `tent run`, so joined where tent may join. No budget.
    again = [w.tent, "export", box, "--bin", "/usr/bin/true", "--name", f"{w.tag}-true"]
    cands = [Candidate(f"{w.kind} exec", [engine_exec(w, box)]), Candidate("tent export --bin (again)", [again])]
    run_case(results, "export", "`tent export --bin` of a command exported before vs the raw engine exec",
             cands, cands[0], w.args.runs, w.args.warmup, w)
    subprocess.run([w.tent, "unexport", box, "--bin", f"{w.tag}-true"], stdin=subprocess.DEVNULL, capture_output=True)


# ---- output ------------------------------------------------------------------

def w_kind(case):
    return next(iter(case["values_kib"]), "").split(" ")[0]


def table(report):
    out = []
    m, v = report["machine"], report["versions"]
    out.append(f"tent benchmark: {report['engine']} | {m['os']} | kernel {m['kernel']} | {m['cores']} cores | {m['cpu']}")
    out.append("versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val))
    out.append(f"runs: {report['runs']} per case after {report['warmup']} warm-up rounds "
               f"({report['slow_runs']} for create from a plain image); load {' '.join(m['loadavg_start'])} at start, "
               f"{' '.join(report['loadavg_end'])} at end")
    out.append("")
    header = f"{'case':<14}{'candidate':<44}{'median':>9}{'p25':>9}{'p75':>9}{'ratio':>8}  {'paired p25-p75':<15}"
    out.append(header)
    out.append("-" * len(header))
    for case in report["cases"]:
        if "unavailable" in case:
            out.append(f"{case['id']:<14}not available: {case['unavailable']}")
            continue
        if "error" in case:
            out.append(f"{case['id']:<14}failed: {case['error'][:200]}")
            continue
        if "sizes_mib" in case:
            sz = case["sizes_mib"]
            out.append(f"{case['id']:<14}{'commit + save | gzip -1 (file)':<44}{sz['raw']:>7.1f}MiB{'':>18}{'base':>8}")
            out.append(f"{'':<14}{'tent save (file)':<44}{sz['tent']:>7.1f}MiB{'':>18}{sz['tent'] / sz['raw']:>8.3f}")
            if "thin" in sz:
                out.append(f"{'':<14}{'tent save --without-base (file)':<44}{sz['thin']:>7.1f}MiB{'':>18}{sz['thin'] / sz['raw']:>8.3f}")
            continue
        if case["id"] == "rss":
            for k, val in case["values_kib"].items():
                out.append(f"{'rss' if k.startswith(w_kind(case)) else '':<14}{k[:43]:<44}{val / 1024:>7.1f}MiB peak RSS")
            continue
        for i, row in enumerate(case["candidates"]):
            ratio = f"{row['ratio']:.3f}" if "ratio" in row else "base"
            paired = (f"{row['paired_ratio_p25']:.3f}-{row['paired_ratio_p75']:.3f}" if "ratio" in row else "")
            out.append(f"{case['id'] if i == 0 else '':<14}{row['label'][:43]:<44}"
                       f"{row['median_ms']:>7.1f}ms{row['p25_ms']:>7.1f}ms{row['p75_ms']:>7.1f}ms{ratio:>8}  {paired}")
        if case["id"] == "startup" and "tent_overhead_ms" in case:
            out.append(f"{'':<14}tent's own overhead: {case['tent_overhead_ms']:.2f} ms")
    out.append("")
    out.append("budgets:")
    for case in report["cases"]:
        if case["id"] in BUDGETS:
            text = BUDGETS[case["id"]][1]
            if "budget" in case:
                b = case["budget"]
                got = f"{b['seconds']:.3f} s" if "seconds" in b else f"{b['ratio']:.3f}x"
                out.append(f"  {'PASS' if b['holds'] else 'FAIL'} {text}: {got}")
            else:
                out.append(f"  n/a  {text}: {case.get('unavailable') or case.get('error', '')[:120]}")
    for p in report["peers"]:
        if p["skipped"]:
            out.append(f"peer {p['name']}: skipped: {p['skipped']}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tent", required=True)
    ap.add_argument("--engine-label", required=True)
    ap.add_argument("--engine-client", required=True)
    ap.add_argument("--image", default="tent-test/debian:bookworm")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--slow-runs", type=int, default=3)
    ap.add_argument("--runs-create", type=int, default=10)
    ap.add_argument("--cases", default="warm,list,wrapper,create,atomic,doctor",
                    help="warm (enter, run, startup, rss), startup (alone), list, wrapper, create, "
                         "atomic (save, load, snapshot, rollback, cold start, upgrade), doctor")
    ap.add_argument("--list-counts", default="1,20,100")
    ap.add_argument("--runs-atomic", type=int, default=5)
    ap.add_argument("--doctor-exports", type=int, default=500)
    ap.add_argument("--save-data", default="/usr/lib/x86_64-linux-gnu",
                    help="a folder in the box copied into its system before save (real files)")
    ap.add_argument("--peers", default="distrobox,toolbox")
    ap.add_argument("--distrobox18", default="", help="Distrobox 1.8.2.5's `distrobox` script (peer distrobox-1.8)")
    ap.add_argument("--atomic", default="save,load,snapshot,rollback,cold,upgrade",
                    help="which of the atomic cases run (save and load take minutes)")
    ap.add_argument("--json", required=True)
    ap.add_argument("--commit", default="")
    args = ap.parse_args()
    args.peer_rm = {}
    cases = set(args.cases.split(","))

    w = World(args)
    # The user's home is in every box (tent's and the peers'), so commands
    # start in the same directory everywhere and tent-exec prints no note.
    os.chdir(os.environ["HOME"])

    def on_signal(sig, _frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    report = {"format": 1, "engine": args.engine_label, "image": args.image,
              "runs": args.runs, "warmup": args.warmup, "slow_runs": args.slow_runs,
              "runs_create_baked": args.runs_create,
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cases": [], "peers": []}
    status = 0
    try:
        report["machine"] = w.machine()
        report["versions"] = w.versions()
        peers = [Peer(k, w) for k in args.peers.split(",") if k]
        box = None
        if cases & {"warm", "wrapper", "startup"}:
            box = warm_cases(w, peers, report["cases"]) if "warm" in cases else None
            if box is None:
                box = w.name("warm")
                w.tent_create(box)
                if "startup" in cases:
                    sh([w.tent, "enter", box, "--", "true"])
                    startup_case(w, report["cases"], box)
        if "wrapper" in cases:
            wrapper_case(w, report["cases"], box)
        if "list" in cases:
            list_cases(w, peers, report["cases"], box)
        if "create" in cases:
            create_cases(w, peers, report["cases"])
        if "atomic" in cases:
            atomic_cases(w, report["cases"])
        if "doctor" in cases:
            doctor_case(w, report["cases"])
        report["peers"] = [{"name": p.key, "skipped": p.why_not} for p in peers]
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        status = 130
    except Failed as e:
        log(f"failed: {e}")
        report["error"] = str(e)
        status = 1
    finally:
        log("removing the boxes and images this run made")
        w.cleanup()
    with open("/proc/loadavg") as f:
        report["loadavg_end"] = f.read().split()[:3]
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    if "machine" in report and "versions" in report:
        print(table(report))
    return status


if __name__ == "__main__":
    sys.exit(main())
