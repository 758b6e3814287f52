//! Exports from a hostile box (issue 9): a desktop file made to run its own
//! line on the host, a box whose shell lies about where a command is, and a
//! damaged receipt. What tent writes must run only through the box.

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, tent_bin};

engine_tests!(hostile_launcher_runs_only_through_the_box, bin_name_comes_from_the_request_not_the_box);

/// Every trick from the issue in one file: a second Exec, an indented one,
/// `Exec =` with spaces, a second [Desktop Entry], TryExec, DBusActivatable,
/// a KDE key that changes the user, a group that is no action, and a Name
/// with terminal escapes. GLib takes the last Exec, `touch /srv/trust/last`.
const HOSTILE_APP: &str = r#"set -e
mkdir -p /srv/trust /usr/share/applications && chmod 777 /srv/trust
f=/usr/share/applications/org.example.Hostile.desktop
cat > $f <<'EOF'
[Desktop Entry]
Type=Application
Name=Hostile
Exec=touch /srv/trust/first
TryExec=/bin/sh
DBusActivatable=true
X-KDE-SubstituteUID=true
Actions=go;
   Exec=touch /srv/trust/indented
Exec[de]=touch /srv/trust/localized

[Desktop Action go]
Name=Go
Exec=touch /srv/trust/action

[Other Group]
Exec=touch /srv/trust/other

[Desktop Entry]
Exec = touch /srv/trust/last
EOF
printf 'Name=Hostile\033[31m\033]0;owned\007\n' >> $f
"#;

fn hostile_launcher_runs_only_through_the_box(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("trust", BOOKWORM, &[]);
    sb.tent(&["run", &name, "--as-root", "--", "sh", "-c", HOSTILE_APP]).ok();

    let out = sb.tent(&["export", &name, "--app", "org.example.Hostile"]).ok();
    assert!(out.stderr.contains("exported app Hostile from"), "{}", out.describe());
    assert!(!out.stderr.contains('\u{1b}') && !out.stderr.contains('\u{7}'), "{}", out.describe());

    let launcher = sb.home.join(format!(".local/share/applications/tent-{name}-org.example.Hostile.desktop"));
    let text = std::fs::read_to_string(&launcher).unwrap();
    let check = std::process::Command::new("desktop-file-validate").arg(&launcher).output().unwrap();
    assert!(check.status.success() && check.stdout.is_empty(), "{}", String::from_utf8_lossy(&check.stdout));
    for gone in ["TryExec", "DBusActivatable", "X-KDE", "[Other Group]", "Exec[de]", "\u{1b}", "\u{7}"] {
        assert!(!text.contains(gone), "{gone:?} in:\n{text}");
    }
    assert_eq!(text.matches("[Desktop Entry]").count(), 1, "{text}");
    assert!(text.contains(&format!("\nName=Hostile (on {name})\n")), "{text}");

    // Every line a key-file reader could take for an Exec (any indentation,
    // any spaces before `=`) is tent's: TENT --engine ENGINE [--root] run BOX --.
    let execs: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("Exec") && l["Exec".len()..].trim_start().starts_with('='))
        .collect();
    assert_eq!(execs.len(), 2, "the entry's and the action's:\n{text}");
    let run_box = format!(" run {name} -- ");
    for line in &execs {
        let exec = line.strip_prefix("Exec=").unwrap_or_else(|| panic!("not canonical: {line}"));
        let (prefix, _) = exec.split_once(&run_box).unwrap_or_else(|| panic!("not through the box: {exec}"));
        let words: Vec<&str> = prefix.split(' ').collect();
        assert_eq!(words[0], tent_bin().to_str().unwrap(), "{exec}");
        assert_eq!(words[1], "--engine", "{exec}");
        assert!(words.len() == 3 || (words.len() == 4 && words[3] == "--root"), "{exec}");
    }

    // Clicked, each runs what GLib would have run from the original, in the box.
    for line in &execs {
        let argv: Vec<&str> = line["Exec=".len()..].split(' ').collect();
        let mut c = sb.command(argv[0]);
        c.args(&argv[1..]);
        let status = c.status().unwrap();
        assert!(status.success(), "{line}");
    }
    let made = sb.tent(&["run", &name, "--", "ls", "/srv/trust"]).ok();
    assert_eq!(made.stdout(), "action\nlast\n");
    assert!(!std::path::Path::new("/srv/trust/last").exists(), "it ran on the host");
}

/// The box's /bin/sh answers `/usr/bin/sudo` for `foo`: the wrapper is still
/// called `foo`, whether asked for by name or by path.
const LYING_SHELL: &str = r#"set -e
cat > /usr/local/lib/lying-sh <<'EOF'
#!/bin/dash
if [ "$1" = -c ]; then
    case $4 in foo|*/foo) printf %s /usr/bin/sudo; exit 0 ;; esac
fi
exec /bin/dash "$@"
EOF
chmod 755 /usr/local/lib/lying-sh
ln -sf /usr/local/lib/lying-sh /bin/sh
"#;

/// A grep that leaves a sleeper behind with the caller's stdout and stderr.
const LINGERING_GREP: &str = r#"set -e
mv /usr/bin/grep /usr/bin/grep.real
printf '#!/bin/sh\nsleep 100 &\nexec /usr/bin/grep.real "$@"\n' > /usr/bin/grep
chmod 755 /usr/bin/grep
"#;

fn bin_name_comes_from_the_request_not_the_box(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("trustbin", BOOKWORM, &[]);
    sb.tent(&["run", &name, "--as-root", "--", "sh", "-c", LYING_SHELL]).ok();
    let bin = sb.home.join(".local/bin");

    for request in ["foo", "/usr/local/bin/foo"] {
        let out = sb.tent(&["export", &name, "--bin", request]).ok();
        assert!(bin.join("foo").is_file(), "{}", out.describe());
        assert!(!bin.join("sudo").exists(), "the box named the wrapper: {}", out.describe());
        sb.tent(&["unexport", &name, "--bin", "foo"]).ok();
    }

    // A box whose grep leaves a process behind that holds the pipes tent
    // reads the box's answer from: export does not wait for it
    // (`concurrent::output_bounded`), where it used to wait as long as the
    // process lived.
    sb.tent(&["run", &name, "--as-root", "--", "sh", "-c", LINGERING_GREP]).ok();
    let started = std::time::Instant::now();
    let out = sb.tent(&["export", &name, "--bin", "true", "--name", "boxtrue"]).ok();
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}: {}", started.elapsed(), out.describe());
    assert!(bin.join("boxtrue").is_file(), "{}", out.describe());

    // A receipt with no files is refused with its path, not a panic.
    let receipt = sb.home.join(format!(".local/state/tent/exports/{}/{name}.json", engine.scope()));
    let text = format!(
        r#"{{"format":1,"box":"{name}","scope":"{}","engine":"podman","exports":[{{"kind":"bin","name":"foo","request":"foo","target":"/usr/bin/foo","files":[],"tent":"/usr/bin/tent"}}]}}"#,
        engine.scope()
    );
    sb.sh(&format!("mkdir -p '{}' && cat > '{}'", receipt.parent().unwrap().display(), receipt.display()))
        .stdin(text)
        .ok();
    let out = sb.tent(&["export", &name, "--list"]).code(1);
    assert!(out.stderr.contains("damaged") && out.stderr.contains(receipt.to_str().unwrap()), "{}", out.describe());
    assert!(out.stderr.contains("hint:"), "{}", out.describe());
}
