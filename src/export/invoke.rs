//! How the files tent writes, and its hints, call tent again: the engine
//! flags, the tent for a scope, the command line that removes an export.

use super::receipt::Kind;
use crate::engine::{Engine, Scope};

/// Default for `export.name_suffix`.
pub const DEFAULT_NAME_SUFFIX: &str = " (on {box})";

/// The flags that make a later tent talk to the same engine in the same mode.
pub fn engine_args(engine: &Engine) -> Vec<String> {
    engine_args_for(&engine.path.to_string_lossy(), engine.scope())
}

/// `engine_args` from what a receipt records: the engine's path and scope.
fn engine_args_for(engine_path: &str, scope: Scope) -> Vec<String> {
    let mut args = vec!["--engine".to_string(), engine_path.to_string()];
    if scope == Scope::PodmanRoot {
        args.push("--root".into());
    }
    args
}

/// How to remove one export, as a command line.
pub fn unexport_command(scope: Scope, box_name: &str, kind: Kind, name: &str) -> String {
    format!("{} unexport {box_name} --{} {}", scope.tent_command(), kind.as_str(), crate::shell::quote_if_needed(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexport_commands_name_the_engine() {
        assert_eq!(unexport_command(Scope::Podman, "dev", Kind::Bin, "rg"), "tent unexport dev --bin rg");
        assert_eq!(
            unexport_command(Scope::Docker, "dev", Kind::App, "a b"),
            "tent --engine docker unexport dev --app 'a b'"
        );
        assert_eq!(unexport_command(Scope::PodmanRoot, "dev", Kind::Bin, "rg"), "tent --root unexport dev --bin rg");
    }
}
