//! Pure tests of the assemble-file reader: no engine, no real environment
//! (variables come from the `env` lookup below).

use std::path::{Path, PathBuf};

use super::*;
use crate::manifest::model::BoxEntry;
use crate::manifest::test_support::message;

fn env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/me".into()),
        "PWD" => Some("/work/here".into()),
        "DBX_CONTAINER_HOME_PREFIX" => Some("/data/homes".into()),
        _ => None,
    }
}

fn parse_str(text: &str) -> Result<Manifest> {
    parse_with(Path::new("/proj/distrobox.ini"), text, &env)
}

fn one(text: &str) -> (BoxEntry, Vec<String>) {
    let m = parse_str(text).unwrap();
    assert_eq!(m.boxes.len(), 1, "{m:?}");
    (m.boxes[0].clone(), m.warnings)
}

fn err(text: &str) -> String {
    message(parse_str(text).unwrap_err()).0
}

#[test]
fn documented_keys_map_to_a_box() {
    let (b, warnings) = one(r#"
[dev] # inline comments are supported
image=tent-test/debian:bookworm
additional_packages="git vim"
additional_packages="tmux"
volume="/tmp/a:/run/a /tmp/b:/run/b"
volumes=/tmp/c:/run/c
init_hooks="touch /init-normal"
init_hooks=echo hi
exported_apps="htop"
exported_bins="/usr/bin/rg /usr/bin/fd"
exported_bins_path="/opt/bin"
	hostname = devhost
home=/tmp/home
root=false
init=false
nvidia=0
start_now=true
"#);
    assert_eq!(b.name, "dev");
    assert_eq!(b.image.as_deref(), Some("tent-test/debian:bookworm"));
    assert_eq!(b.packages, ["git", "vim", "tmux"]);
    assert_eq!(b.volumes, ["/tmp/a:/run/a", "/tmp/b:/run/b", "/tmp/c:/run/c"]);
    assert_eq!(b.start_hooks, ["touch /init-normal", "echo hi"]);
    assert!(b.init_hooks.is_empty());
    assert_eq!(b.exports.apps, ["htop"]);
    assert_eq!(b.exports.bins.len(), 2);
    assert_eq!(b.exports.bins[1].path.as_deref(), Some(Path::new("/opt/bin")));
    assert_eq!(b.hostname.as_deref(), Some("devhost"));
    assert_eq!(b.home, Some(PathBuf::from("/tmp/home")));
    assert!(!b.root);
    assert!(warnings.is_empty(), "false flags and start_now=true are what tent does: {warnings:?}");
}

#[test]
fn a_section_without_an_image_uses_tents_default_image() {
    let (b, warnings) = one("[ generic1]\n");
    assert_eq!(b.name, "generic1");
    assert_eq!(b.image, None, "None is the default image of `tent create`");
    assert!(warnings.is_empty(), "{warnings:?}");
    // `image=` (empty) is no image either, as in Distrobox.
    assert_eq!(one("[a]\nimage=\n").0.image, None);
}

#[test]
fn keys_tent_cannot_honour_yet_are_notes_and_the_rest_applies() {
    let (b, notes) =
        one("[gpu]\nimage=x\nnvidia=true\ninit=1\nadditional_flags=\"--gpus all\"\npre_init_hooks=\"touch /pre\"\n\
         unshare_netns=true\nunshare_all=false\npull=true\nreplace=true\nstart_now=false\nentry=true\nclone=other\n\
         name=another\nadditional_packages=git\nadditional_flags=--name=x\n");
    assert_eq!(b.packages, ["git"]);
    assert!(b.exports.entry, "entry=true makes the box's menu launcher");
    assert_eq!(b.clone.as_deref(), Some("other"), "clone=other makes the box as a copy of box other");
    let expect = [
        "ignored: start_now=false (/proj/distrobox.ini:11): tent apply starts every box it makes",
        "ignored: replace=true (/proj/distrobox.ini:10): ",
        "ignored: additional_flags=--name=x (/proj/distrobox.ini:16): --engine-arg \"--name=x\" is refused",
        "ignored: name=another (/proj/distrobox.ini:14): the box is named after its section, \"gpu\"",
    ];
    assert_eq!(notes.len(), expect.len(), "{notes:#?}");
    for (note, want) in notes.iter().zip(expect) {
        assert!(note.starts_with(want), "{note:?} should start with {want:?}");
    }
}

#[test]
fn create_options_are_wired() {
    let (b, notes) =
        one("[gpu]\nimage=x\nnvidia=true\ninit=1\nadditional_flags=\"--gpus all\"\nadditional_flags=--env=A=1\n\
         pre_init_hooks=\"touch /pre\"\nunshare_netns=true\npull=true\n");
    assert!(notes.is_empty(), "{notes:#?}");
    assert!(b.nvidia && b.init && b.pull);
    assert_eq!(b.unshare.names(), ["netns", "process", "groups"], "--init implies process and groups");
    assert_eq!(b.engine_args, ["--gpus", "all", "--env=A=1"]);
    assert_eq!(b.pre_init_hooks, ["touch /pre"]);
    let (b, _) = one("[a]\nimage=x\nunshare_all=true\n");
    assert_eq!(b.unshare, crate::boxes::spec::Unshare::all());
}

#[test]
fn every_key_is_typed_in_the_section() {
    let path = Path::new("/p/d.ini");
    let text = "[s]\nadditional_flags=--env \"A=b c\" --device=/dev/dri 'x y'\\ z\nunshare_ipc=1\ninit=true\n";
    let raw = syntax::sections(path, text).unwrap();
    let resolved = include::resolve(&raw).unwrap();
    let mut warnings = Vec::new();
    let s =
        section::build("s", &raw[0].at, &resolved[0], &env, None, &mut warnings, &mut section::MAX_FILE_TEXT.clone())
            .unwrap();
    assert_eq!(s.additional_flags[0].value, ["--env", "A=b c", "--device=/dev/dri", "x y z"]);
    assert_eq!(s.unshare_ipc.as_ref().map(|x| x.value), Some(true));
    assert_eq!(s.init.as_ref().map(|x| (x.value, x.at.line)), Some((true, 4)));
    assert_eq!(section::shell_words("'a").unwrap_err(), "a ' quote is not closed");
}

#[test]
fn values_expand_variables_as_data() {
    let (b, warnings) =
        one("[dev]\nimage=x\nhome=~/boxes/dev\nvolume=$HOME/.ssh:$home/.ssh:ro\nvolume=$PWD:/workspace\n\
         exported_bins_path=${HOME}/.local/bin\nexported_bins=rg\nhostname=${DBX_CONTAINER_HOME_PREFIX}\n");
    assert_eq!(b.home, Some(PathBuf::from("/home/me/boxes/dev")));
    assert_eq!(b.volumes, ["/home/me/.ssh:/home/me/boxes/dev/.ssh:ro", "/work/here:/workspace"]);
    assert_eq!(b.exports.bins[0].path.as_deref(), Some(Path::new("/home/me/.local/bin")));
    assert_eq!(b.hostname.as_deref(), Some("/data/homes"));
    assert!(warnings.is_empty(), "{warnings:?}");

    // An unset variable expands to nothing, with a warning at its column.
    let (b, warnings) = one("[dev]\nimage=x\nhome=$NOPE/boxes\n");
    assert_eq!(b.home, Some(PathBuf::from("/boxes")));
    assert_eq!(warnings, ["/proj/distrobox.ini:3:6: $NOPE is not set: it expands to nothing in `home`"]);

    // `\$` is a dollar.
    assert_eq!(one("[dev]\nimage=x\nhostname=\"a\\$b\"\n").0.hostname.as_deref(), Some("a$b"));
}

/// Issue 23: hooks as Distrobox 1 reads them when they are not one quoted
/// string: one leading and one trailing quote go, inner quotes stay.
#[test]
fn hooks_with_quotes_inside_are_read_as_distrobox_reads_them() {
    let (b, warnings) =
        one("[dev]\nimage=x\ninit_hooks=\"echo \"hi there\" > /x\"\ninit_hooks=\"touch /y\" # a comment\n\
         init_hooks=\"sh -c 'echo a'\" && true\"\npre_init_hooks=\"unclosed one\n");
    assert_eq!(b.start_hooks, ["echo \"hi there\" > /x", "touch /y", "sh -c 'echo a'\" && true"]);
    assert_eq!(b.pre_init_hooks, ["unclosed one"]);
    assert!(warnings.is_empty(), "{warnings:?}");
    // Other keys keep refusing what a shell would not read as one value.
    assert!(err("[dev]\nimage=\"a\" b\n").contains("unexpected 'b' after the quoted value"));
}

/// Issue 23: `entry` that is not a boolean (a path) is no error for
/// Distrobox: no launcher, with a warning.
#[test]
fn entry_that_is_not_a_boolean_is_false_with_a_warning() {
    let (b, warnings) = one("[dev]\nimage=x\nentry=/usr/share/applications/dev.desktop\n");
    assert!(!b.exports.entry, "no launcher");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("/proj/distrobox.ini:3:") && warnings[0].contains("read as false"), "{warnings:?}");
    assert!(one("[dev]\nimage=x\nentry=true\n").0.exports.entry);
}

#[test]
fn hooks_keep_their_shell_text_for_the_box() {
    let (b, warnings) = one("[dev]\nimage=x\ninit_hooks=\"echo $(id -u) `date` $container_user_name > /x\"\n\
         init_hooks='sh -c \"echo $HOME\"'\ninit_hooks=apt-get update;\ninit_hooks=\"echo \\\"hi\\\"\"\n");
    assert_eq!(
        b.start_hooks,
        ["echo $(id -u) `date` $container_user_name > /x", "sh -c \"echo $HOME\"", "apt-get update;", "echo \"hi\""]
    );
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn commands_outside_hooks_are_errors_at_their_column() {
    assert_eq!(
        err("[dev]\nimage=$(curl evil)\n"),
        "/proj/distrobox.ini:2:7: `image`: command substitution (`$(…)` or a backquote) would run a program on the host; \
         tent reads this file as data (`tent apply --run-substitutions` runs each on the host after printing it)"
    );
    assert!(err("[dev]\nimage=x\nadditional_packages=\"git `id`\"\n").starts_with("/proj/distrobox.ini:3:26: "));
    assert!(err("[dev]\nhome='${HOME/a/b}'\n").starts_with("/proj/distrobox.ini:2:7: `home`: `${HOME/a/b}`"));
}

#[test]
fn syntax_as_people_write_it() {
    let m = parse_str(
        "\u{feff}; a comment line\r\n[ generic1] # comment after the header\r\n\
         image = \"quay.io/a b\" ; # spaces and a final semicolon\r\n\
         \tadditional_packages=git vim;   \r\nadditional_packages='x \"y\"'\r\n\
         hostname=h\"q\"\r\npull=1\r\nroot=True\r\n[b]\r\nimage=\r\nimage=last",
    )
    .unwrap();
    let a = &m.boxes[0];
    assert_eq!(a.name, "generic1");
    assert_eq!(a.image.as_deref(), Some("quay.io/a b"));
    assert_eq!(a.packages, ["git", "vim", "x", "\"y\""]);
    assert_eq!(a.hostname.as_deref(), Some("h\"q\""), "quotes inside a bare value stay");
    assert!(a.root);
    assert_eq!(m.boxes[1].image.as_deref(), Some("last"), "no final newline");
}

#[test]
fn a_repeated_single_key_takes_the_last_value_with_a_warning() {
    let (b, warnings) = one("[dev]\nimage=a\nimage=b\nadditional_packages=x\nadditional_packages=y\n");
    assert_eq!(b.image.as_deref(), Some("b"));
    assert_eq!(b.packages, ["x", "y"]);
    assert_eq!(
        warnings,
        ["/proj/distrobox.ini:3:1: `image` is set again (also at line 2): the last value, \"b\", is used"]
    );
}

#[test]
fn unknown_keys_warn_with_a_did_you_mean_and_the_file_applies() {
    let (b, warnings) =
        one("[dev]\nimage=x\ninit_hook=\"touch /x\"\nexported_binaries=/usr/bin/jq\ncontainer_name=dev\nfoo=$(bar)\n");
    assert_eq!(b.image.as_deref(), Some("x"));
    assert!(b.start_hooks.is_empty());
    assert_eq!(
        warnings,
        [
            "/proj/distrobox.ini:3:1: unknown key `init_hook` is ignored (did you mean `init_hooks`?)",
            "/proj/distrobox.ini:4:1: unknown key `exported_binaries` is ignored (did you mean `exported_bins`?)",
            "/proj/distrobox.ini:5:1: unknown key `container_name` is ignored (the box's name is its section's [NAME])",
            "/proj/distrobox.ini:6:1: unknown key `foo` is ignored",
        ]
    );
}

#[test]
fn malformed_lines_are_errors_with_file_line_and_column() {
    assert_eq!(err("[dev]\nimage=\"debian\n"), "/proj/distrobox.ini:2:7: the value has no closing \" (it opens here)");
    assert_eq!(err("[dev]\n  image='x\n"), "/proj/distrobox.ini:2:9: the value has no closing ' (it opens here)");
    assert_eq!(
        err("[dev]\nimage=x\n  just words\n"),
        "/proj/distrobox.ini:3:3: expected key=value, found \"just words\""
    );
    assert_eq!(err("image=x\n[dev]\n"), "/proj/distrobox.ini:1:1: `image` comes before any [section]");
    assert_eq!(err("[dev\nimage=x\n"), "/proj/distrobox.ini:1:1: the section header has no closing `]`");
    assert_eq!(err("[dev] x\n"), "/proj/distrobox.ini:1:7: unexpected 'x' after the section header");
    assert_eq!(err("[dev]\nimage=\"a\" b\n"), "/proj/distrobox.ini:2:11: unexpected 'b' after the quoted value");
    assert_eq!(
        err("[dev]\nimage=x\nroot=maybe\n"),
        "/proj/distrobox.ini:3:6: `root` must be true or false (or 1 or 0), not \"maybe\""
    );
    assert!(err("[dev]\nimage=x\n[dev]\n").starts_with("/proj/distrobox.ini:3:1: section [dev] is defined twice"));
    assert!(err("[a/b]\n").starts_with("/proj/distrobox.ini:1:1: section [a/b]: "));
}

#[test]
fn include_merges_another_section_and_later_keys_win() {
    let m = parse_str(
        "[base]\nimage=a\nadditional_packages=git\nhome=~/b\n[dev]\ninclude=base\nimage=b\nadditional_packages=vim\n\
         volume=$home/x:/x\n",
    )
    .unwrap();
    let dev = &m.boxes[1];
    assert_eq!(dev.image.as_deref(), Some("b"));
    assert_eq!(dev.packages, ["git", "vim"]);
    assert_eq!(dev.volumes, ["/home/me/b/x:/x"], "an included key is a variable too");
    assert!(m.warnings.is_empty(), "overriding an included key is what include is for: {:?}", m.warnings);
    let (msg, hint) = message(parse_str("[base]\nimage=x\n[dev]\ninclude=bsae\n").unwrap_err());
    assert_eq!(msg, "/proj/distrobox.ini:4:1: include of \"bsae\": there is no such section");
    assert_eq!(hint, "did you mean \"base\"?");
}

#[test]
fn include_cycles_are_errors_naming_the_chain() {
    assert_eq!(
        err("[a]\nimage=x\ninclude=b\n[b]\ninclude=c\n[c]\ninclude=a\n"),
        "/proj/distrobox.ini:7:1: include cycle: a → b → c → a"
    );
    assert_eq!(err("[a]\ninclude=a\n"), "/proj/distrobox.ini:2:1: include cycle: a → a");
}

#[test]
fn an_include_bomb_fails_fast_instead_of_taking_gigabytes() {
    // Issue 9: each section includes the previous one twice; 40 levels would be 2^40 keys.
    let mut text = String::from("[s0]\nimage=x\nadditional_packages=a\n");
    for i in 1..=40 {
        text.push_str(&format!("[s{i}]\ninclude=s{p}\ninclude=s{p}\n", p = i - 1));
    }
    assert!(text.len() < 2000, "{}", text.len());
    let started = std::time::Instant::now();
    let msg = err(&text);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(msg.starts_with("/proj/distrobox.ini:"), "{msg}");
    assert!(msg.contains("keys once its includes are resolved (at most 4096)"), "{msg}");

    // A deep chain of single includes is refused past the depth limit.
    let mut text = String::from("[s0]\nimage=x\n");
    for i in 1..=40 {
        text.push_str(&format!("[s{i}]\ninclude=s{}\n", i - 1));
    }
    assert!(err(&text).contains("nested deeper than 32"), "{}", err(&text));

    // The same sections under the limits resolve once each.
    let mut text = String::from("[s0]\nimage=x\nadditional_packages=a\n");
    for i in 1..=8 {
        text.push_str(&format!("[s{i}]\ninclude=s{p}\ninclude=s{p}\n", p = i - 1));
    }
    let m = parse_str(&text).unwrap();
    assert_eq!(m.boxes[8].packages.len(), 256);
}

#[test]
fn config_files_are_read_as_data() {
    let vars = config_vars(
        "# distrobox.conf\ncontainer_manager=\"podman\"\nexport DBX_CONTAINER_HOME_PREFIX='/srv/homes'\n\
         container_image_default=$(evil)\n  not a line\n",
    );
    assert_eq!(vars.get("container_manager").map(String::as_str), Some("podman"));
    assert_eq!(vars.get("DBX_CONTAINER_HOME_PREFIX").map(String::as_str), Some("/srv/homes"));
    assert_eq!(vars.get("container_image_default"), None);
}

/// The fixtures are shaped like published assemble files; each must give a plan.
#[test]
fn real_world_files_all_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/distrobox");
    let mut count = 0;
    for file in std::fs::read_dir(&dir).unwrap() {
        let path = file.unwrap().path();
        if !is_distrobox_file(&path) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let m = parse_with(&path, &text, &env).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert!(!m.boxes.is_empty(), "{}", path.display());
        count += 1;
    }
    assert!(count >= 12, "{count} fixtures");
}

#[test]
fn distroboxs_example_manifest_applies_with_notes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/distrobox/example-manifest.ini");
    let m = parse_with(&path, &std::fs::read_to_string(&path).unwrap(), &env).unwrap();
    let names: Vec<&str> = m.boxes.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        ["generic1", "generic2", "generic3", "alpine3", "alpine4", "debian5", "ubi6", "opensuse7", "arch8"]
    );
    assert_eq!(m.boxes[0].image, None);
    assert_eq!(m.boxes[8].volumes, ["/tmp/test:/run/a", "/tmp/test:/run/b"]);
    assert!(m.boxes.iter().any(|b| b.init), "init=true is wired");
    assert!(m.warnings.iter().all(|w| w.starts_with("ignored: ")), "{:#?}", m.warnings);
}

#[test]
fn a_value_that_doubles_itself_fails_fast_at_its_line() {
    // Issue 19, finding 6: 20 lines of `hostname=$hostname$hostname$hostname$hostname`
    // (about 1 KB) asked for 4^20 bytes and aborted out of memory.
    let mut text = String::from("[dev]\nimage=x\nhostname=a\n");
    for _ in 0..20 {
        text.push_str("hostname=$hostname$hostname$hostname$hostname\n");
    }
    assert!(text.len() < 1100, "{}", text.len());
    let started = std::time::Instant::now();
    let (msg, hint) = message(parse_str(&text).unwrap_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // 4^8 = 65536 bytes is the value limit: the ninth doubling line (line 12) passes it.
    assert!(msg.starts_with("/proj/distrobox.ini:12:"), "{msg}");
    assert!(msg.contains("`hostname`: the value grows past 65536 bytes"), "{msg}");
    assert!(hint.contains("at most 65536 bytes"), "{hint}");

    // Just under the limit is fine.
    let mut text = String::from("[dev]\nimage=x\nhostname=a\n");
    for _ in 0..8 {
        text.push_str("hostname=$hostname$hostname$hostname$hostname\n");
    }
    let (b, _) = one(&text);
    assert_eq!(b.hostname.map(|h| h.len()), Some(65536));
}

#[test]
fn a_file_whose_values_add_up_past_its_limit_is_an_error() {
    // Each value is under its own limit; the file as a whole is not.
    let mut text = String::from("[s0]\nimage=x\nhostname=a\n");
    for _ in 0..7 {
        text.push_str("hostname=$hostname$hostname$hostname$hostname\n");
    }
    text.push_str("additional_packages=$hostname\n");
    for i in 1..100 {
        text.push_str(&format!("[s{i}]\ninclude=s0\n"));
    }
    let msg = err(&text);
    assert!(msg.starts_with("/proj/distrobox.ini:"), "{msg}");
    assert!(msg.contains("values of this file add up to more than 1048576 bytes"), "{msg}");
}

#[test]
fn a_big_section_included_everywhere_is_refused_before_it_is_copied() {
    // One section of 4000 keys, included by 5000 others: 20 million copies.
    let mut text = String::from("[big]\nimage=x\n");
    for i in 0..4000 {
        text.push_str(&format!("additional_packages=p{i}\n"));
    }
    for i in 0..5000 {
        text.push_str(&format!("[s{i}]\ninclude=big\n"));
    }
    let started = std::time::Instant::now();
    let msg = err(&text);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(msg.contains("more than 16384 keys together"), "{msg}");
    assert!(msg.starts_with("/proj/distrobox.ini:"), "{msg}");
}

#[test]
fn hostile_config_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, 0o600.into(), 0).unwrap();
    // Would block forever if opened without O_NONBLOCK, or read as a FIFO.
    assert_eq!(crate::files::read_text_bounded(&fifo, MAX_CONFIG_BYTES), None);
    let zero = dir.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    assert_eq!(crate::files::read_text_bounded(&zero, MAX_CONFIG_BYTES), None);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Lines shaped like assemble files, with the pieces that multiply:
    /// self-references, includes, defaults, quotes and comments.
    fn line() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "image",
            "hostname",
            "home",
            "include",
            "additional_packages",
            "volume",
            "init_hooks",
            "additional_flags",
            "init",
            "nosuch",
        ]);
        let piece = prop::sample::select(vec![
            "$hostname",
            "$home",
            "${image}",
            "${NOPE:-$HOME}",
            "~/x",
            "a",
            "b c",
            "\"q\"",
            "'s'",
            " # c",
            "$(id)",
            "\\$x",
            "true",
            "s0",
            "s1",
            "s2",
            "=",
            "${",
        ]);
        prop_oneof![
            4 => (key, prop::collection::vec(piece, 0..6)).prop_map(|(k, p)| format!("{k}={}", p.concat())),
            1 => prop::sample::select(vec!["s0", "s1", "s2", "s3", "bad name", ""]).prop_map(|s| format!("[{s}]")),
            1 => any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Never panics, and whatever it makes stays within the limits.
        #[test]
        fn any_file_parses_or_fails_within_bounds(lines in prop::collection::vec(line(), 0..40), repeat in 1usize..30) {
            let mut text = lines.join("\n");
            // Repeating the file's last lines makes doubling chains long.
            let tail: String = lines.iter().rev().take(3).cloned().collect::<Vec<_>>().join("\n");
            for _ in 0..repeat {
                text.push('\n');
                text.push_str(&tail);
            }
            let started = std::time::Instant::now();
            if let Ok(m) = parse_str(&text) {
                let bytes: usize = m
                    .boxes
                    .iter()
                    .map(|b| {
                        b.hostname.as_ref().map_or(0, String::len)
                            + b.image.as_ref().map_or(0, String::len)
                            + b.packages.iter().map(String::len).sum::<usize>()
                            + b.volumes.iter().map(String::len).sum::<usize>()
                    })
                    .sum();
                prop_assert!(bytes <= section::MAX_FILE_TEXT);
            }
            prop_assert!(started.elapsed() < std::time::Duration::from_secs(5));
        }

        /// Plain values come back as written.
        #[test]
        fn plain_values_round_trip(
            name in "[a-z][a-z0-9-]{0,20}",
            image in "[a-z0-9./:-]{1,40}",
            packages in prop::collection::vec("[a-z0-9+.-]{1,20}", 0..8),
        ) {
            let text = format!("[{name}]\nimage={image}\nadditional_packages=\"{}\"\n", packages.join(" "));
            let (b, _) = one(&text);
            prop_assert_eq!(b.name, name);
            prop_assert_eq!(b.image.as_deref(), Some(image.as_str()));
            prop_assert_eq!(b.packages, packages);
        }
    }
}
