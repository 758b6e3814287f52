//! How the files tent writes, and its hints, call tent again: the engine
//! flags, the tent for a scope, the command line that removes an export.

use super::receipt::Kind;
use crate::engine::Engine;

/// Default for `export.name_suffix`.
pub const DEFAULT_NAME_SUFFIX: &str = " (on {box})";

/// The flags that make a later tent talk to the same engine in the same mode.
pub fn engine_args(engine: &Engine) -> Vec<String> {
    engine_args_for(&engine.path.to_string_lossy(), engine.scope().as_str())
}

/// `engine_args` from what a receipt records: the engine's path and scope.
fn engine_args_for(engine_path: &str, scope: &str) -> Vec<String> {
    let mut args = vec!["--engine".to_string(), engine_path.to_string()];
    if scope == crate::engine::Scope::PodmanRoot.as_str() {
        args.push("--root".into());
    }
    args
}

/// The tent command line that reaches the same engine as `scope`, for the
/// hints and markers: `tent`, `tent --root` or `tent --engine docker`.
pub fn tent_for_scope(scope: &str) -> &'static str {
    crate::engine::Scope::parse(scope).unwrap_or(crate::engine::Scope::Podman).tent_command()
}

/// How to remove one export, as a command line.
pub fn unexport_command(scope: &str, box_name: &str, kind: Kind, name: &str) -> String {
    format!("{} unexport {box_name} --{} {}", tent_for_scope(scope), kind.as_str(), crate::shell::quote_if_needed(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexport_commands_name_the_engine() {
        assert_eq!(unexport_command("podman", "dev", Kind::Bin, "rg"), "tent unexport dev --bin rg");
        assert_eq!(
            unexport_command("docker", "dev", Kind::App, "a b"),
            "tent --engine docker unexport dev --app 'a b'"
        );
        assert_eq!(tent_for_scope("podman-root"), "tent --root");
    }
}
