//! The real-engine test harness: runs the real `tent` binary against rootful
//! podman (as root), rootless podman as a plain user, and Docker (as a plain
//! user in the docker group), each test with its own HOME, unique box names,
//! and cleanup that runs even when the test fails.
//!
//! Which engines run: `TENT_TEST_ENGINES` (comma list of `podman-root`,
//! `podman-rootless`, `docker`, or `none`). Unset, every engine that is
//! available runs. With `TENT_TEST_REQUIRE=1` (CI), an engine that was asked
//! for but is not available fails the tests instead of skipping them.
//! `scripts/setup-engines` prepares a machine for all three.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const TEST_USER: &str = "tent-test";
pub const BOOKWORM: &str = "tent-test/debian:bookworm";
pub const TRIXIE: &str = "tent-test/debian:trixie";
/// Bookworm without the Mesa and Vulkan drivers the other Debian images carry
/// (scripts/setup-engines): for the test of their first-start install.
pub const BOOKWORM_PLAIN: &str = "tent-test/debian:bookworm-plain";
pub const BUSYBOX: &str = "tent-test/busybox:latest";
pub const DOCKER: &str = "/usr/bin/docker";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    PodmanRoot,
    PodmanRootless,
    Docker,
}

impl Engine {
    pub fn key(self) -> &'static str {
        match self {
            Engine::PodmanRoot => "podman-root",
            Engine::PodmanRootless => "podman-rootless",
            Engine::Docker => "docker",
        }
    }

    /// What tent is told with TENT_ENGINE.
    pub fn tent_engine(self) -> &'static str {
        match self {
            Engine::Docker => DOCKER,
            _ => "podman",
        }
    }

    pub fn client(self) -> &'static str {
        match self {
            Engine::Docker => DOCKER,
            _ => "podman",
        }
    }

    /// tent's state scope for this engine.
    pub fn scope(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            _ => "podman",
        }
    }

    pub fn as_root(self) -> bool {
        self == Engine::PodmanRoot
    }

    fn available(self) -> Result<(), String> {
        let ok = |mut c: Command| c.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("the engine tests run as root (they switch to the test user themselves)".into());
        }
        match self {
            Engine::PodmanRoot => {
                let mut c = Command::new("podman");
                c.args(["image", "exists", BOOKWORM]);
                if ok(c) { Ok(()) } else { Err(format!("rootful podman without image {BOOKWORM}")) }
            }
            Engine::PodmanRootless => {
                let mut c = user_command(&PathBuf::from(format!("/home/{TEST_USER}")), &[]);
                c.args(["podman", "image", "exists", BOOKWORM]);
                if ok(c) { Ok(()) } else { Err(format!("rootless podman for {TEST_USER} without image {BOOKWORM}")) }
            }
            Engine::Docker => {
                let mut c = Command::new(DOCKER);
                c.args(["image", "inspect", BOOKWORM]);
                if ok(c) { Ok(()) } else { Err(format!("docker not running or without image {BOOKWORM}")) }
            }
        }
    }
}

/// Whether tests for this engine run; panics when required but unavailable.
pub fn enabled(engine: Engine) -> bool {
    let wanted = std::env::var("TENT_TEST_ENGINES").unwrap_or_default();
    let asked = wanted.split(',').any(|w| w.trim() == engine.key());
    if wanted.trim() == "none" || (!wanted.is_empty() && !asked) {
        return false;
    }
    match engine.available() {
        Ok(()) => true,
        Err(why) if std::env::var("TENT_TEST_REQUIRE").is_ok_and(|v| v == "1") => {
            panic!(
                "engine {} is required (TENT_TEST_REQUIRE=1) but unavailable: {why}; run scripts/setup-engines",
                engine.key()
            )
        }
        Err(why) => {
            eprintln!("skipping {}: {why}", engine.key());
            false
        }
    }
}

/// The tent binary, copied where the test user can run it whatever the
/// permissions of the checkout.
pub fn tent_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tent-it-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("tent");
        std::fs::copy(env!("CARGO_BIN_EXE_tent"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Another test thread that forked while the copy's write descriptor was
        // open holds it until its own exec; running the copy meanwhile fails
        // with "Text file busy". Wait until it runs.
        for _ in 0..500 {
            match Command::new(&bin).arg("--version").output() {
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::TXTBSY.raw_os_error()) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                _ => break,
            }
        }
        bin
    })
}

fn user_uid() -> u32 {
    let out = Command::new("id").args(["-u", TEST_USER]).output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("test user uid")
}

/// A command run as the test user with a clean environment.
fn user_command(home: &Path, extra_env: &[(String, String)]) -> Command {
    let uid = user_uid();
    let mut c = Command::new("runuser");
    c.args(["-u", TEST_USER, "--", "env", "-i"]);
    c.arg(format!("HOME={}", home.display()));
    c.arg(format!("USER={TEST_USER}"));
    c.arg(format!("LOGNAME={TEST_USER}"));
    c.arg("PATH=/usr/local/bin:/usr/bin:/bin");
    c.arg(format!("XDG_RUNTIME_DIR=/run/user/{uid}"));
    for (k, v) in extra_env {
        c.arg(format!("{k}={v}"));
    }
    c
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test's world: a user, a HOME, the boxes it made.
pub struct Sandbox {
    pub engine: Engine,
    pub home: PathBuf,
    root: PathBuf,
    boxes: std::sync::Mutex<Vec<String>>,
    pub env: Vec<(String, String)>,
}

impl Sandbox {
    /// A sandbox for a test of one engine only, or None when that engine's
    /// tests are not to run (see `enabled`).
    pub fn if_enabled(engine: Engine) -> Option<Self> {
        enabled(engine).then(|| Sandbox::new(engine))
    }

    pub fn new(engine: Engine) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{}-{n}", engine.key(), std::process::id());
        let root = if engine.as_root() {
            PathBuf::from(format!("/var/tmp/tent-it/{tag}"))
        } else {
            PathBuf::from(format!("/home/{TEST_USER}/tent-it/{tag}"))
        };
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        if !engine.as_root() {
            // This sandbox only: a recursive chown of all of tent-it would
            // walk other tests' sandboxes while they are being removed, and
            // fail on the files that vanish under it.
            let owner = format!("{TEST_USER}:");
            let parent = format!("/home/{TEST_USER}/tent-it");
            let status = Command::new("chown").args([&owner, &parent]).status().unwrap();
            assert!(status.success(), "chown {parent}");
            let status = Command::new("chown").arg("-R").arg(&owner).arg(&root).status().unwrap();
            assert!(status.success(), "chown -R {}", root.display());
        }
        let mut env = vec![
            ("TENT_ENGINE".to_string(), engine.tent_engine().to_string()),
            ("NO_COLOR".to_string(), "1".to_string()),
            ("TERM".to_string(), "dumb".to_string()),
        ];
        if engine == Engine::PodmanRootless {
            // Each test has its own HOME, but the user's image store is the
            // one scripts/setup-engines filled.
            env.push(("CONTAINERS_STORAGE_CONF".into(), format!("/home/{TEST_USER}/.config/containers/storage.conf")));
        }
        if engine.as_root() {
            let runtime = root.join("run");
            std::fs::create_dir_all(&runtime).unwrap();
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
            env.push(("XDG_RUNTIME_DIR".into(), runtime.display().to_string()));
        }
        Sandbox { engine, home, root, boxes: Default::default(), env }
    }

    /// A unique box name, removed again when the sandbox is dropped.
    pub fn name(&self, prefix: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("it-{prefix}-{}-{n}", std::process::id());
        self.boxes.lock().unwrap().push(name.clone());
        name
    }

    /// A host command as this sandbox's user, in its HOME, with its env.
    pub fn command<S: AsRef<OsStr>>(&self, program: S) -> Command {
        let mut c = if self.engine.as_root() {
            let mut c = Command::new("env");
            c.arg("-i");
            c.arg(format!("HOME={}", self.home.display()));
            c.arg("USER=root");
            c.arg("LOGNAME=root");
            c.arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
            for (k, v) in &self.env {
                c.arg(format!("{k}={v}"));
            }
            c
        } else {
            user_command(&self.home, &self.env)
        };
        c.arg(program);
        c.current_dir(&self.home);
        c
    }

    /// Runs tent with these arguments.
    pub fn tent<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        let mut c = self.command(tent_bin());
        c.args(args);
        Run::new(c)
    }

    /// Runs a host shell snippet as the sandbox's user.
    pub fn sh(&self, script: &str) -> Run {
        let mut c = self.command("sh");
        c.args(["-c", script]);
        Run::new(c)
    }

    /// The engine's own client, as the sandbox's user.
    pub fn engine_cmd(&self, args: &[&str]) -> Run {
        let mut c = self.command(self.engine.client());
        c.args(args);
        Run::new(c)
    }

    /// tent's state directory of a box.
    pub fn state_dir(&self, name: &str) -> PathBuf {
        self.home.join(".local/state/tent/boxes").join(self.engine.scope()).join(name)
    }

    /// The sandbox user's XDG_RUNTIME_DIR.
    pub fn runtime_dir(&self) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == "XDG_RUNTIME_DIR")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("/run/user/{}", self.uid()))
    }

    pub fn uid(&self) -> u32 {
        if self.engine.as_root() { 0 } else { user_uid() }
    }

    /// Creates a box from `image` and returns its name (asserting success).
    pub fn create(&self, prefix: &str, image: &str, extra: &[&str]) -> String {
        let name = self.name(prefix);
        let mut args = vec!["create", name.as_str(), "--image", image];
        args.extend_from_slice(extra);
        let first = self.tent(&args).output();
        // runc, under this machine's load (2 cores, three engines at once),
        // now and then fails to start a container's process: "can't get final
        // child's PID from pipe: EOF" (runc's issue tracker has it as
        // intermittent, unrelated to the container). Not tent's fault: the
        // create is tried once more, and said so.
        if first.code != Some(0) && first.stderr.contains("can't get final child's PID from pipe") {
            eprintln!("harness: runc's intermittent start failure on {name}; creating it once more");
            let _ = self.engine_cmd(&["rm", "--force", &name]).output();
            self.tent(&args).ok();
        } else {
            assert_eq!(first.code, Some(0), "{}", first.describe());
        }
        name
    }
}

impl Sandbox {
    /// Removes (through the engine) every box this sandbox made; an image
    /// the test made can go after this, instead of staying behind untagged.
    pub fn remove_boxes(&self) {
        let names: Vec<String> = self.boxes.lock().unwrap().drain(..).collect();
        for name in &names {
            let _ = self.engine_cmd(&["rm", "--force", name]).output();
        }
        // Their snapshots too (the names are unique to this run): they would
        // pile up in the engine's store run after run. Docker removes an
        // image only once its children (a clone's, committed from a box on
        // a snapshot) are gone: the removal goes round while it removes any.
        let mut ids = std::collections::BTreeSet::new();
        for name in &names {
            let label = format!("label=tent.snapshot.box={name}");
            let listed = self.engine_cmd(&["images", "--quiet", "--no-trunc", "--filter", &label]).output().stdout();
            ids.extend(listed.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string));
        }
        while !ids.is_empty() {
            let before = ids.len();
            ids.retain(|id| self.engine_cmd(&["rmi", "--force", id]).output().code != Some(0));
            if ids.len() == before {
                break;
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.remove_boxes();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A command about to run, and what it printed.
pub struct Run {
    command: Command,
    stdin: Option<Vec<u8>>,
}

pub struct Done {
    pub argv: String,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl From<Command> for Run {
    fn from(command: Command) -> Self {
        Run::new(command)
    }
}

impl Run {
    fn new(command: Command) -> Self {
        Run { command, stdin: None }
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn output(mut self) -> Done {
        use std::io::Write;
        let argv = format!("{:?}", self.command);
        self.command.stdin(if self.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        self.command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.command.spawn().unwrap_or_else(|e| panic!("{argv}: {e}"));
        if let Some(bytes) = self.stdin.take() {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let Output { status, stdout, stderr } = child.wait_with_output().unwrap();
        Done { argv, code: status.code(), stdout, stderr: String::from_utf8_lossy(&stderr).into_owned() }
    }

    /// Runs and asserts exit status 0.
    pub fn ok(self) -> Done {
        let done = self.output();
        assert_eq!(done.code, Some(0), "{}", done.describe());
        done
    }

    /// Runs and asserts the exit status.
    pub fn code(self, code: i32) -> Done {
        let done = self.output();
        assert_eq!(done.code, Some(code), "{}", done.describe());
        done
    }
}

impl Done {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn describe(&self) -> String {
        format!(
            "command: {}\nstatus: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.argv,
            self.code,
            self.stdout(),
            self.stderr
        )
    }

    pub fn stdout_bytes(&self) -> &[u8] {
        &self.stdout
    }
}

/// Expands `engine_tests!(a, b)` into one test per engine for each function
/// `fn a(engine: Engine)`, so a failure names the engine.
#[macro_export]
macro_rules! engine_tests {
    ($($test:ident),* $(,)?) => {
        mod podman_root {
            $( #[test] fn $test() { if $crate::harness::enabled($crate::harness::Engine::PodmanRoot) { super::$test($crate::harness::Engine::PodmanRoot) } } )*
        }
        mod podman_rootless {
            $( #[test] fn $test() { if $crate::harness::enabled($crate::harness::Engine::PodmanRootless) { super::$test($crate::harness::Engine::PodmanRootless) } } )*
        }
        mod docker {
            $( #[test] fn $test() { if $crate::harness::enabled($crate::harness::Engine::Docker) { super::$test($crate::harness::Engine::Docker) } } )*
        }
    };
}

/// The pids of processes running exactly `argv`.
pub fn pids_of(argv: &[&str]) -> Vec<u32> {
    let want = argv.join("\0") + "\0";
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want.as_bytes()))
        .collect()
}

/// Polls `check` for up to `secs` seconds; whether it came true.
pub fn eventually(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(secs) {
        if check() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    false
}

pub fn bytes_contain(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

pub fn os(s: &[u8]) -> &OsStr {
    OsStr::from_bytes(s)
}
