//! The engines the relay's commands use, chosen once when it starts.

use std::ffi::OsString;

/// The engines the relay's commands use, one per scope, chosen once when the
/// relay starts from what tent itself chose (the starting tent's engine,
/// passed as TENT_ENGINE), else each scope's engine by name on the relay's
/// PATH. Never an engine named in a receipt or any other file a box can write.
#[derive(Debug, Clone, Default)]
pub(super) struct Engines(pub(super) Vec<crate::engine::Engine>);

impl Engines {
    pub(super) fn choose(chosen: Option<&str>) -> Self {
        Engines(
            crate::engine::Scope::ALL.into_iter().filter_map(|s| crate::engine::Engine::for_scope(chosen, s)).collect(),
        )
    }

    pub(super) fn get(&self, scope: crate::engine::Scope) -> Option<&crate::engine::Engine> {
        self.0.iter().find(|e| e.scope() == scope)
    }

    /// `--engine PATH [--root]` for tent commands in `scope`; Err says why not.
    pub(super) fn flags(&self, scope: crate::engine::Scope) -> Result<Vec<OsString>, String> {
        let engine = self.get(scope).ok_or_else(|| {
            format!("the host's tent relay found no engine for {scope} boxes; is it installed on the host's PATH?")
        })?;
        let mut flags = vec![OsString::from("--engine"), engine.path.clone().into_os_string()];
        if scope == crate::engine::Scope::PodmanRoot {
            flags.push("--root".into());
        }
        Ok(flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::test_support::test_engines;
    use std::path::Path;

    #[test]
    fn the_relay_chooses_its_engines_once_from_tents_own_choice() {
        let w = |s: &[&str]| s.iter().map(OsString::from).collect::<Vec<_>>();
        let engines = test_engines();
        assert_eq!(
            engines.flags(crate::engine::Scope::parse("docker").unwrap()).unwrap(),
            w(&["--engine", "/usr/lib/tent-test/docker"])
        );
        assert_eq!(
            engines.flags(crate::engine::Scope::parse("podman-root").unwrap()).unwrap(),
            w(&["--engine", "/usr/lib/tent-test/podman", "--root"])
        );
        // A remote endpoint's scope is never the relay's.
        assert!(engines.flags(crate::engine::Scope::parse("podman@0123456789ab").unwrap()).is_err());
        // Tent's own choice serves its scope; other scopes get their engine
        // by name, never the chosen binary of another kind.
        let chosen = Engines::choose(Some("/opt/tent-test/podman"));
        assert_eq!(
            chosen.get(crate::engine::Scope::parse("podman").unwrap()).unwrap().path,
            Path::new("/opt/tent-test/podman")
        );
        assert!(
            chosen
                .get(crate::engine::Scope::parse("docker").unwrap())
                .is_none_or(|e| e.kind == crate::engine::EngineKind::Docker)
        );
    }
}
