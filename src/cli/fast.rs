//! A way past clap for the command lines that run most often: every
//! exported command (`tent [--engine E] [--root] run BOX -- CMD...`) and
//! every shell or command in a box (`tent enter BOX [-- CMD...]`). Building
//! clap's whole command tree is about a quarter of tent's own start-up
//! (docs/performance.md); these shapes, and only these, are read here into
//! the very `Cli` clap makes of them (a property test holds the two equal).
//! Anything else, or anything unusual in them, goes to clap.

use std::ffi::OsString;

use super::{Cli, Command, EnterArgs, RunArgs};

/// The `Cli` clap would make of `args` (with the program's name first), or
/// None: then clap reads it.
pub(crate) fn parse(args: &[OsString]) -> Option<Cli> {
    let mut rest = args.get(1..)?.iter();
    let (mut engine, mut root) = (None, false);
    let verb = loop {
        match rest.next()?.to_str()? {
            "--engine" if engine.is_none() => engine = Some(plain(rest.next()?)?),
            "--root" if !root => root = true,
            verb @ ("run" | "enter") => break verb,
            _ => return None,
        }
    };
    let name = Some(plain(rest.next()?)?);
    let command: Vec<OsString> = match rest.next() {
        None if verb == "enter" => Vec::new(),
        Some(dashes) if dashes == "--" => rest.cloned().collect(),
        _ => return None,
    };
    if command.is_empty() {
        // `run BOX` is an error and `enter BOX --` a corner: clap's.
        if verb == "run" || args.last().is_some_and(|a| a == "--") {
            return None;
        }
    }
    let command = if verb == "run" {
        Command::Run(RunArgs { name, as_root: false, env: Vec::new(), yes: false, command })
    } else {
        Command::Enter(EnterArgs { name, env: Vec::new(), yes: false, command })
    };
    Some(Cli { engine, root, connection: None, url: None, verbose: false, quiet: false, command })
}

/// A value clap takes as it is: UTF-8, not empty, not like an option.
fn plain(word: &OsString) -> Option<String> {
    let word = word.to_str()?;
    (!word.is_empty() && !word.starts_with('-')).then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// What the fast path makes is what clap makes, field for field.
    fn same_as_clap(args: &[OsString]) -> Option<String> {
        let fast = parse(args)?;
        let clap =
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: fast path took what clap refuses: {e}"));
        assert_eq!(format!("{fast:?}"), format!("{clap:?}"), "{args:?}");
        Some(format!("{fast:?}"))
    }

    #[test]
    fn the_common_shapes_take_the_fast_path() {
        for words in [
            &["tent", "run", "dev", "--", "rg", "-n", "x"][..],
            &["tent", "--engine", "/usr/bin/podman", "run", "dev", "--", "/usr/bin/rg", "--", "-x"],
            &["tent", "--root", "--engine", "podman", "run", "dev", "--", "true"],
            &["tent", "enter", "dev"],
            &["tent", "enter", "dev", "--", "make", "-j4"],
            &["tent", "--root", "enter", "help"],
        ] {
            assert!(same_as_clap(&os(words)).is_some(), "{words:?}");
        }
    }

    #[test]
    fn anything_else_goes_to_clap() {
        for words in [
            &["tent"][..],
            &["tent", "run", "dev"],
            &["tent", "run", "dev", "--"],
            &["tent", "enter", "dev", "--"],
            &["tent", "run", "--as-root", "dev", "--", "id"],
            &["tent", "run", "-e", "A=1", "dev", "--", "env"],
            &["tent", "run", "--", "true"],
            &["tent", "enter"],
            &["tent", "enter", "-h"],
            &["tent", "-v", "run", "dev", "--", "true"],
            &["tent", "--engine=podman", "run", "dev", "--", "true"],
            &["tent", "--engine", "--root", "run", "dev", "--", "true"],
            &["tent", "--engine", "a", "--engine", "b", "run", "dev", "--", "true"],
            &["tent", "--root", "--root", "enter", "dev"],
            &["tent", "run", "dev", "x", "--", "true"],
            &["tent", "list"],
            &["tent", "run", "", "--", "true"],
        ] {
            assert!(parse(&os(words)).is_none(), "{words:?}");
        }
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![0xff]);
        assert!(parse(&[OsString::from("tent"), "run".into(), bad.clone(), "--".into(), "x".into()]).is_none());
        // A command that is not UTF-8 is passed on as it is, as clap does.
        let args = [OsString::from("tent"), "run".into(), "dev".into(), "--".into(), bad];
        assert!(same_as_clap(&args).is_some());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any command line of words tent's options, verbs and names are
        /// made of: the fast path either declines or agrees with clap.
        #[test]
        fn the_fast_path_agrees_with_clap(words in proptest::collection::vec(proptest::sample::select(vec![
            "run", "enter", "list", "--", "-", "--engine", "--root", "-v", "-q", "--as-root", "-e", "A=1", "-y",
            "dev", "help", "-h", "--help", "--version", "podman", "/usr/bin/docker", "true", "",
        ]), 0..8)) {
            let mut args = vec![OsString::from("tent")];
            args.extend(words.iter().map(OsString::from));
            let _ = same_as_clap(&args);
        }

        /// Command lines near the fast shapes (options, a verb, a name, maybe
        /// `--`, a command); most take the fast path, and agree with clap.
        #[test]
        fn near_shapes_agree_with_clap(
            options in proptest::collection::vec(proptest::sample::select(vec![
                "--engine", "podman", "--root", "-v", "--quiet", "-"]), 0..4),
            verb in proptest::sample::select(vec!["run", "enter", "stop", "--", "-e"]),
            name in proptest::sample::select(vec!["dev", "a.b_c-1", "-x", "", "--", "help", "--as-root"]),
            dashes in proptest::bool::weighted(0.8),
            command in proptest::collection::vec("[ -~]{0,6}", 0..4),
        ) {
            let mut args = vec![OsString::from("tent")];
            args.extend(options.iter().map(OsString::from));
            args.push(verb.into());
            args.push(name.into());
            if dashes {
                args.push("--".into());
            }
            args.extend(command.iter().map(OsString::from));
            let _ = same_as_clap(&args);
        }
    }
}
