//! Exports on real engines (issue 4): a real package's launcher and icons,
//! wrappers fed hostile arguments and file names, clashes, doctor, and
//! `tent rm` removing exactly a box's exports.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox, os, tent_bin};

engine_tests!(app_from_a_real_package, wrappers_clashes_doctor_and_rm);

fn validate(path: &Path) {
    let out = Command::new("desktop-file-validate").arg(path).output().expect("desktop-file-validate is installed");
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{} does not validate:\n{}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command with optional stdin: (status, stdout, stderr).
fn run(mut c: Command, stdin: Option<&[u8]>) -> (Option<i32>, Vec<u8>, String) {
    use std::io::Write;
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() { out.extend(files_under(&p)) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

/// xterm from Debian's mirror: the launcher validates, runs through tent,
/// carries the suffix and an icon copied into the user's hicolor theme.
fn app_from_a_real_package(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("app", BOOKWORM, &[]);
    sb.tent(&[
        "run",
        &name,
        "--as-root",
        "--",
        "sh",
        "-c",
        "apt-get update -q && apt-get install -y -q --no-install-recommends xterm",
    ])
    .ok();

    let out = sb.tent(&["export", &name, "--app", "xterm"]).ok();
    assert!(out.stderr.contains("exported app XTerm"), "{}", out.describe());
    let apps = sb.home.join(".local/share/applications");
    let launcher = apps.join(format!("tent-{name}-debian-xterm.desktop"));
    validate(&launcher);
    let text = std::fs::read_to_string(&launcher).unwrap();
    assert!(text.contains(&format!("# tent-export: box={name} scope={}", engine.scope())), "{text}");
    assert!(text.contains(&format!("\nName=XTerm (on {name})\n")), "{text}");
    assert!(text.contains("\nStartupWMClass=XTerm\n"), "{text}");
    assert!(text.contains(&format!("\nIcon=tent-{name}-mini.xterm\n")), "{text}");
    let icon = sb.home.join(format!(".local/share/icons/hicolor/scalable/apps/tent-{name}-mini.xterm.svg"));
    assert!(std::fs::read(&icon).unwrap().starts_with(b"<?xml") || icon.exists());

    // The Exec line runs xterm in the box: ask it for its version.
    let exec = text.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
    let argv: Vec<&str> = exec.split(' ').collect();
    assert_eq!(argv[0], tent_bin().to_str().unwrap());
    assert_eq!(&argv[argv.len() - 4..], ["run", name.as_str(), "--", "xterm"]);
    let mut c = sb.command(argv[0]);
    c.args(&argv[1..]).arg("-version");
    let version = run(c, None);
    assert!(version.1.starts_with(b"XTerm("), "{version:?}");

    // By file path too, and listed; unexport removes launcher and icon.
    sb.tent(&["export", &name, "--app", "/usr/share/applications/debian-uxterm.desktop"]).ok();
    validate(&apps.join(format!("tent-{name}-debian-uxterm.desktop")));
    let list: serde_json::Value =
        serde_json::from_slice(&sb.tent(&["export", &name, "--list", "--json"]).ok().stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[0]["kind"], "app");
    assert_eq!(list[0]["box"], name.as_str());
    sb.tent(&["unexport", &name, "--app", "xterm"]).ok();
    assert!(!launcher.exists());
    assert!(apps.join(format!("tent-{name}-debian-uxterm.desktop")).exists(), "only the one asked for goes");
}

/// A synthetic app with actions, field codes and awkward quoting, plus icons
/// in several sizes, made in the box by hand.
const FAKE_APP: &str = r#"set -e
mkdir -p /usr/share/applications /usr/share/icons/hicolor/16x16/apps /usr/share/icons/hicolor/48x48/apps /usr/share/icons/hicolor/scalable/apps
cat > /usr/share/applications/org.example.Fake.desktop <<'EOF'
[Desktop Entry]
Type=Application
Name=Fake App
Name[de]=Falsche App
Exec=sh -c "printf '%%s|' \\"\\$@\\"" fake --caption %c %F
TryExec=sh
Icon=org.example.Fake
DBusActivatable=true
Actions=second;

[Desktop Action second]
Name=Second
Exec=sh -c "echo second" %u
EOF
printf '\211PNG\r\n\032\n\0\0\0\rIHDR\0\0\0\020\0\0\0\020' > /usr/share/icons/hicolor/16x16/apps/org.example.Fake.png
printf '\211PNG\r\n\032\n\0\0\0\rIHDR\0\0\0\060\0\0\0\060' > /usr/share/icons/hicolor/48x48/apps/org.example.Fake.png
echo '<svg xmlns="http://www.w3.org/2000/svg"/>' > /usr/share/icons/hicolor/scalable/apps/org.example.Fake.svg
printf '#!/bin/sh\nfor a in "$@"; do printf "%%s\\0" "$a"; done\n' > /usr/local/bin/showargs
chmod 755 /usr/local/bin/showargs
"#;

fn wrappers_clashes_doctor_and_rm(engine: Engine) {
    let sb = Sandbox::new(engine);
    let name = sb.create("bin", BOOKWORM, &[]);
    sb.tent(&["run", &name, "--as-root", "--", "sh", "-c", FAKE_APP]).ok();
    let bin = sb.home.join(".local/bin");
    let apps = sb.home.join(".local/share/applications");

    // The user's own files, which nothing may touch.
    sb.sh("mkdir -p .local/bin .local/share/applications && printf '#!/bin/sh\\necho mine\\n' > .local/bin/cat && chmod +x .local/bin/cat && echo keep > .local/share/applications/mine.desktop").ok();
    let before_user: Vec<(PathBuf, Vec<u8>)> = files_under(&bin)
        .into_iter()
        .chain(files_under(&apps))
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    assert_eq!(before_user.len(), 2);

    // App with actions and hostile quoting: validates, every size of icon.
    sb.tent(&["export", &name, "--app", "Fake App"]).ok();
    let launcher = apps.join(format!("tent-{name}-org.example.Fake.desktop"));
    validate(&launcher);
    let text = std::fs::read_to_string(&launcher).unwrap();
    assert!(!text.contains("TryExec") && !text.contains("DBusActivatable"), "{text}");
    assert!(text.contains("\nName[de]=Falsche App (on "), "{text}");
    assert!(text.contains("\nStartupWMClass=org.example.Fake\n"), "{text}");
    for size in ["16x16", "48x48"] {
        assert!(
            sb.home.join(format!(".local/share/icons/hicolor/{size}/apps/tent-{name}-org.example.Fake.png")).is_file()
        );
    }
    assert!(
        sb.home.join(format!(".local/share/icons/hicolor/scalable/apps/tent-{name}-org.example.Fake.svg")).is_file()
    );

    // A clash with a file tent did not write is refused and changes nothing.
    let out = sb.tent(&["export", &name, "--bin", "cat"]).code(1);
    assert!(out.stderr.contains("tent did not write it") && out.stderr.contains("--name"), "{}", out.describe());
    assert_eq!(std::fs::read(bin.join("cat")).unwrap(), b"#!/bin/sh\necho mine\n");
    sb.tent(&["export", &name, "--bin", "cat", "--name", "boxcat"]).ok();
    sb.tent(&["export", &name, "--bin", "sh", "--name", "boxsh"]).ok();
    sb.tent(&["export", &name, "--bin", "/usr/local/bin/showargs"]).ok();
    let custom = sb.home.join("custom bin");
    sb.tent(&["export", &name, "--bin", "true", "--name", "boxtrue", "--path", custom.to_str().unwrap()]).ok();
    // A name on the PATH the user's login shell has in the box (the profile
    // adds ~/tools): found as `tent run` finds it, not only on the image's.
    sb.sh("mkdir tools && printf '#!/bin/sh\\necho from-tools\\n' > tools/mytool && chmod +x tools/mytool && echo 'PATH=\"$HOME/tools:$PATH\"' >> .profile").ok();
    let out = sb.tent(&["export", &name, "--bin", "mytool"]).ok();
    assert!(out.stderr.contains(&format!("{}/tools/mytool", sb.home.display())), "{}", out.describe());
    assert_eq!(run(sb.command(bin.join("mytool")), None), (Some(0), b"from-tools\n".to_vec(), String::new()));
    let sc = Command::new("shellcheck").arg(bin.join("boxcat")).output().unwrap();
    assert!(sc.status.success(), "{}", String::from_utf8_lossy(&sc.stdout));

    // Hostile arguments arrive byte for byte in the box.
    let hostile: Vec<&[u8]> =
        vec![b"a b", b"", b"*", b"$HOME", b"'\"", b"line\nbreak\n", b"\xff\xfe", b"-x", b"\\0101", b"\t"];
    let mut c = sb.command(bin.join("showargs"));
    c.args(hostile.iter().map(|a| os(a)));
    let out = run(c, None);
    let expected: Vec<u8> = hostile.iter().flat_map(|a| a.iter().copied().chain([0])).collect();
    assert_eq!(out, (Some(0), expected, String::new()));

    // Hostile file names, globbed on the host, are opened by the box.
    sb.sh("mkdir names && cd names && for n in 'sp ace' \"$(printf 'nl\\nx')\" \"$(printf '\\377bin')\" '*' '$d' '-dash'; do printf '%s' \"$n\" > \"./$n\"; done").ok();
    let out = sb.sh(&format!("cd names && {} -- * | od -An -c", bin.join("boxcat").display())).ok();
    let direct = sb.sh("cd names && cat -- * | od -An -c").ok();
    assert_eq!(out.stdout(), direct.stdout());

    // stdin and the exit status pass through; no terminal without one.
    let out = run(sb.command(bin.join("boxcat")), Some(b"in\0put\xff"));
    assert_eq!(out, (Some(0), b"in\0put\xff".to_vec(), String::new()));
    let mut c = sb.command(bin.join("boxsh"));
    c.args(["-c", "[ -t 0 ] && echo tty; echo err >&2; exit 42"]);
    assert_eq!(run(c, None), (Some(42), vec![], "err\n".to_string()));

    // Inside the same box the wrapper runs the binary directly; from another
    // box it runs it in its own box through the host's relay, with the same
    // arguments, stdin and status.
    let wrapper = bin.join("showargs");
    let out = sb.tent(&["run", &name, "--", "sh", "-c", "\"$0\" x 'y z' | od -An -c", wrapper.to_str().unwrap()]).ok();
    assert_eq!(out.stdout().split_whitespace().collect::<String>(), "x\\0yz\\0");
    let other = sb.create("other", BOOKWORM, &[]);
    let out = sb
        .tent(&["run", &other, "--", "sh", "-c", "\"$0\" x 'y z' '' '$HOME' | od -An -c", wrapper.to_str().unwrap()])
        .ok();
    assert_eq!(out.stdout().split_whitespace().collect::<String>(), "x\\0yz\\0\\0$HOME\\0", "{}", out.describe());
    let boxsh = bin.join("boxsh");
    let out = sb
        .tent(&["run", &other, "--", boxsh.to_str().unwrap(), "-c", "read l; echo \"$TENT_BOX:$l\"; exit 42"])
        .stdin("piped\n")
        .code(42);
    assert_eq!(out.stdout(), format!("{name}:piped\n"), "ran in the exporting box");

    // doctor: a target gone from the box, a file deleted on the host.
    sb.tent(&["run", &name, "--as-root", "--", "rm", "/usr/local/bin/showargs"]).ok();
    std::fs::remove_file(bin.join("boxsh")).unwrap();
    let out = sb.tent(&["doctor", "--json"]).code(1);
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<(String, String)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_string(), f["problem"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(problems, vec![("boxsh".into(), "files-missing".into()), ("showargs".into(), "target-gone".into())]);
    sb.tent(&["doctor", "--fix"]).ok();
    assert!(bin.join("boxsh").is_file() && !wrapper.exists());
    sb.tent(&["export", &name, "--check"]).ok();

    // rm removes every export of the box, custom paths included, and nothing else.
    let ours: Vec<PathBuf> = files_under(&sb.home.join(".local/share/icons"))
        .into_iter()
        .chain([launcher.clone(), bin.join("boxcat"), bin.join("boxsh"), custom.join("boxtrue")])
        .collect();
    assert!(ours.iter().all(|p| p.exists()), "{ours:?}");
    sb.tent(&["rm", "-f", "-y", &name]).ok();
    for p in &ours {
        assert!(!p.exists(), "{} is left after rm", p.display());
    }
    for (path, bytes) in &before_user {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{} was changed", path.display());
    }
    // What is left in the bin and applications directories is the user's
    // (and the MIME cache update-desktop-database keeps there).
    let left: Vec<PathBuf> = files_under(&bin).into_iter().chain(files_under(&apps)).collect();
    let user: Vec<PathBuf> = before_user.iter().map(|(p, _)| p.clone()).collect();
    assert!(left.iter().all(|p| user.contains(p) || p.ends_with("mimeinfo.cache")), "{left:?}");
    assert!(!sb.home.join(format!(".local/state/tent/exports/{}/{name}.json", engine.scope())).exists());
}
