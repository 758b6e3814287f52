//! Desktop apps from a box look and run as on the host (issue 16): an X
//! server with an ordinary hostname-keyed cookie, a Wayland compositor, the
//! host's themes and fonts, Mesa at first start, and a real exported app on
//! screen.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine_tests;
use crate::harness::{BOOKWORM, BOOKWORM_PLAIN, Done, Engine, Run, Sandbox, TEST_USER, tent_bin};

engine_tests!(desktop_apps_reach_the_host_display_theme_and_fonts);

/// A host process (an X server, a compositor) in its own process group,
/// killed with it when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill has no memory preconditions; the group is our child's.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn spawn(mut c: Command) -> Server {
    c.stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
    Server(c.spawn().unwrap_or_else(|e| panic!("{c:?}: {e}")))
}

fn wait_for(path: &Path, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what} never made {}", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A host file planted for one test, removed again (with its directory).
struct Planted(PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn plant(dir: &str, file: &str, bytes: &[u8]) -> Planted {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(Path::new(dir).join(file), bytes).unwrap();
    Planted(dir.into())
}

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

/// Xvfb started the ordinary way: no `-ac`, a random MIT cookie in an
/// authority file, keyed to the host's name (as xvfb-run and X11 sessions
/// write it). Returns the server, its display number and the file.
fn xvfb_with_cookie(sb: &Sandbox, display: u32) -> (Server, PathBuf) {
    let auth = sb.home.join(format!("xauth-{display}"));
    let cookie: String = std::fs::read("/proc/sys/kernel/random/uuid")
        .map(|u| String::from_utf8_lossy(&u).trim().replace('-', ""))
        .unwrap();
    add_cookie(sb, &auth, display, &cookie);
    let mut c = Command::new("Xvfb");
    c.args([format!(":{display}"), "-nolisten".into(), "tcp".into(), "-auth".into()]).arg(&auth);
    let server = spawn(c);
    wait_for(Path::new(&format!("/tmp/.X11-unix/X{display}")), "Xvfb");
    (server, auth)
}

/// Adds (or replaces) the cookie for the display, keyed to the host's name,
/// as `xauth` does in a session; the file stays the sandbox user's.
fn add_cookie(sb: &Sandbox, auth: &Path, display: u32, cookie: &str) {
    let mut c = Command::new("xauth");
    c.arg("-f").arg(auth).args(["-q", "add", &format!("{}/unix:{display}", host_hostname())]);
    c.args(["MIT-MAGIC-COOKIE-1", cookie]);
    Run::from(c).ok();
    if !sb.engine.as_root() {
        let mut c = Command::new("chown");
        c.arg(format!("{TEST_USER}:")).arg(auth);
        Run::from(c).ok();
    }
}

/// `tent run BOX -- ARGS` with extra session variables.
fn run_with(sb: &Sandbox, vars: &[String], name: &str, args: &[&str]) -> Done {
    let mut c = sb.command("env");
    c.args(vars).arg(tent_bin()).args(["run", name, "--"]).args(args);
    Run::from(c).output()
}

fn desktop_apps_reach_the_host_display_theme_and_fonts(engine: Engine) {
    let sb = Sandbox::new(engine);
    let tag = format!("{}-{}", engine.key(), std::process::id());
    // A theme and a font on the host, before the box starts.
    let theme_name = format!("TentTestTheme-{tag}");
    let _theme = plant(
        &format!("/usr/share/themes/{theme_name}"),
        "index.theme",
        format!("[Desktop Entry]\nType=X-GNOME-Metatheme\nName={theme_name}\n").as_bytes(),
    );
    let font_dir = format!("/usr/share/fonts/truetype/tent-test-{tag}");
    let _font =
        plant(&font_dir, "TentTest.ttf", &std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").unwrap());

    let name = sb.create("gui", BOOKWORM, &["--packages", "x11-utils wayland-utils fontconfig"]);

    // The drivers are there (the test images carry them: see
    // `mesa_and_vulkan_at_first_start` for the install itself).
    sb.tent(&["run", &name, "--", "dpkg", "-s", "libgl1-mesa-dri", "mesa-vulkan-drivers"]).ok();

    // X11 with a hostname-keyed cookie: the box's hostname is not the host's.
    let display = 100 + (std::process::id() % 50) * 3 + engine as u32;
    let (_xvfb, auth) = xvfb_with_cookie(&sb, display);
    let vars = [format!("DISPLAY=:{display}"), format!("XAUTHORITY={}", auth.display())];
    // Control: the host's file as it is does not work in the box.
    let out = run_with(&sb, &vars, &name, &["sh", "-c", &format!("XAUTHORITY={} xdpyinfo", auth.display())]);
    assert_ne!(
        out.code,
        Some(0),
        "the host's own cookie works in the box, the test proves nothing: {}",
        out.describe()
    );
    let out = run_with(&sb, &vars, &name, &["sh", "-c", "echo \"$XAUTHORITY\"; xdpyinfo"]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(out.stdout().starts_with("/run/.tent/state/Xauthority\n"), "{}", out.describe());
    assert!(out.stdout().contains(&format!("name of display:    :{display}")), "{}", out.describe());
    // A new cookie on the host (a new session): the copy follows.
    let cookie2 = "0123456789abcdef0123456789abcdef";
    add_cookie(&sb, &auth, display, cookie2);
    run_with(&sb, &vars, &name, &["true"]);
    let copy = std::fs::read(sb.state_dir(&name).join("Xauthority")).unwrap();
    let raw: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&cookie2[2 * i..2 * i + 2], 16).unwrap()).collect();
    assert!(copy.windows(16).any(|w| w == raw), "the copy has the new cookie");

    // Wayland: a client in the box lists the host compositor's globals.
    let runtime = sb.runtime_dir();
    let socket = format!("wayland-tent-{tag}");
    let mut c = sb.command("weston");
    c.args(["--backend=headless-backend.so", &format!("--socket={socket}"), "--idle-time=0"]);
    let _weston = spawn(c);
    wait_for(Path::new(&format!("{runtime}/{socket}")), "weston");
    let out = run_with(&sb, &[format!("WAYLAND_DISPLAY={socket}")], &name, &["wayland-info"]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    assert!(out.stdout().contains("'wl_compositor'"), "{}", out.describe());

    // The host's theme on XDG_DATA_DIRS (where GTK looks), after the box's own.
    let find = format!(
        "IFS=:; for d in $XDG_DATA_DIRS; do test -f \"$d/themes/{theme_name}/index.theme\" && echo \"$d\"; done; echo \"$XDG_DATA_DIRS\""
    );
    let out = sb.tent(&["run", &name, "--", "sh", "-c", &find]).ok();
    assert_eq!(out.stdout(), "/var/lib/tent/host-share\n/usr/local/share:/usr/share:/var/lib/tent/host-share\n");
    // The host's font through fontconfig.
    let out = sb.tent(&["run", &name, "--", "fc-list"]).ok();
    assert!(out.stdout().contains(&format!("/run/host{font_dir}/TentTest.ttf")), "{}", out.describe());
}

/// A real app: Galculator installed with apt in a box, exported, launched
/// from its launcher's Exec line under an X server with an ordinary cookie:
/// its window is on screen (docs/galculator-in-a-box.png is this screen).
#[test]
fn exported_galculator_opens_its_window() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRootless) else { return };
    let name = sb.create("calc", BOOKWORM, &["--packages", "galculator"]);
    let out = sb.tent(&["export", &name, "--app", "galculator"]).ok();
    let apps = sb.home.join(".local/share/applications");
    let launcher = std::fs::read_dir(&apps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("galculator"))
        .unwrap_or_else(|| panic!("no launcher: {}", out.describe()));
    let text = std::fs::read_to_string(&launcher).unwrap();
    // The dock matches the window to this launcher by its class.
    assert!(text.contains("\nStartupWMClass=galculator\n"), "{text}");
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
    let argv: Vec<&str> = exec.split(' ').filter(|w| !w.starts_with('%')).collect();

    let display = 160 + std::process::id() % 40;
    let (_xvfb, auth) = xvfb_with_cookie(&sb, display);
    let mut c = sb.command("env");
    c.arg(format!("DISPLAY=:{display}")).arg(format!("XAUTHORITY={}", auth.display())).args(&argv);
    let _app = spawn(c);
    let x = |program: &str, args: &[&str]| {
        let mut c = Command::new(program);
        c.args(args).env("DISPLAY", format!(":{display}")).env("XAUTHORITY", &auth);
        Run::from(c).output()
    };
    // The main window: a viewable "galculator" window larger than GTK's
    // 10x10 client leader.
    let start = Instant::now();
    let tree = loop {
        let tree = x("xwininfo", &["-root", "-tree"]);
        let main = tree.stdout().lines().find_map(|l| {
            let id = l.split_whitespace().next()?;
            let size = l.split_once("\"Galculator\")")?.1.split_whitespace().next()?;
            let width: u32 = size.split('x').next()?.parse().ok()?;
            (width > 50).then(|| id.to_string())
        });
        if let Some(id) = main
            && x("xwininfo", &["-id", &id]).stdout().contains("Map State: IsViewable")
        {
            break tree;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no galculator window: {}", tree.describe());
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(tree.stdout().contains("(\"galculator\" \"Galculator\")"), "{}", tree.describe());
    // Mapped is not yet painted: take the screen until GTK has drawn (a
    // loaded machine takes longer), for a minute at most. An empty screen is
    // one color; the calculator's buttons and text are many.
    let shot = sb.home.join("galculator.png");
    let start = Instant::now();
    let (n, colors) = loop {
        std::thread::sleep(Duration::from_secs(2));
        let shot_out = x("import", &["-window", "root", shot.to_str().unwrap()]);
        assert_eq!(shot_out.code, Some(0), "{}", shot_out.describe());
        let colors = x("identify", &["-format", "%k", shot.to_str().unwrap()]);
        let n: u32 = colors.stdout().trim().parse().unwrap_or(0);
        if n > 16 || start.elapsed() > Duration::from_secs(60) {
            break (n, colors);
        }
    };
    assert!(n > 16, "the screenshot has {n} colors: no window drawn? {}", colors.describe());
    if let Ok(dir) = std::env::var("TENT_TEST_SCREENSHOT_DIR") {
        let _ = std::fs::copy(&shot, Path::new(&dir).join("galculator-in-a-box.png"));
    }
}

/// A box from an image without Mesa and Vulkan gets the distribution's
/// drivers at its first start, as Distrobox installs them. One engine: the
/// install is the same everywhere and costs about a minute.
#[test]
fn mesa_and_vulkan_at_first_start() {
    let Some(sb) = Sandbox::if_enabled(Engine::PodmanRoot) else { return };
    let image =
        sb.engine_cmd(&["run", "--rm", "--entrypoint", "/bin/sh", BOOKWORM_PLAIN, "-c", "dpkg -s libgl1-mesa-dri"]);
    assert_ne!(image.output().code, Some(0), "the plain image must lack the drivers, or this test proves nothing");
    let name = sb.create("mesa", BOOKWORM_PLAIN, &[]);
    sb.tent(&["run", &name, "--", "dpkg", "-s", "libgl1-mesa-dri", "mesa-vulkan-drivers"]).ok();
}
