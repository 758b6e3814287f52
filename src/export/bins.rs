//! Exporting a command: found in the box, written as a wrapper on the host.

use std::fs;
use std::path::Path;

use super::exporter::{Exporter, Outcome, absolute, utf8};
use super::invoke::{engine_args, unexport_command};
use super::receipt::{Export, Kind};
use super::wrapper;
use crate::error::{Error, Result};

impl Exporter<'_> {
    /// Finds a command in the box: an absolute path, or a name on the box's
    /// PATH; it must be an executable file and not one of tent's wrappers.
    pub fn resolve_bin(&self, request: &str) -> Result<String> {
        if request.contains('/') && !request.starts_with('/') {
            return Err(Error::Export {
                message: format!("{request:?} is a relative path"),
                hint: Some("give the binary's absolute path in the box, or its command name".into()),
            });
        }
        const RESOLVE: &str = r#"t=$1
case $t in
*/*) ;;
*) # Search PATH by hand: `command -v` names builtins such as `true`.
   set -f; IFS=:; found=
   for d in ${PATH:-/usr/local/bin:/usr/bin:/bin}; do
       case $d in /*) ;; *) continue ;; esac
       if [ -f "$d/$t" ] && [ -x "$d/$t" ]; then found=$d/$t; break; fi
   done
   unset IFS; set +f
   [ -n "$found" ] || exit 3
   t=$found ;;
esac
[ -e "$t" ] || exit 3
[ -d "$t" ] && exit 5
[ -x "$t" ] || exit 4
head -c 4096 "$t" 2>/dev/null | grep -q '^# tent-export: ' && exit 6
printf '%s' "$t"
"#;
        let output = self.box_sh(RESOLVE, &[request])?;
        let b = self.box_name;
        let problem = match output.status.code() {
            Some(0) => return Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
            Some(3) => format!("there is no {request:?} in box {b:?}"),
            Some(4) => format!("{request:?} in box {b:?} is not executable"),
            Some(5) => format!("{request:?} in box {b:?} is a directory"),
            Some(6) => format!("{request:?} in box {b:?} is itself a command exported by tent"),
            _ => {
                return Err(Error::Engine {
                    what: format!("could not look for {request:?} in box {b:?}"),
                    failure: self.sh_failure(&output, &[request]),
                });
            }
        };
        Err(Error::Export {
            message: problem,
            hint: Some(format!(
                "install it in the box (`tent enter {b}`), or check the path with `tent run {b} -- ls -l PATH`"
            )),
        })
    }

    /// Exports a command as `dir/name`.
    pub fn export_bin(&self, request: &str, name: Option<&str>, dir: &Path) -> Result<Outcome> {
        let target = self.resolve_bin(request)?;
        // The name comes from what the user asked for, never from the path
        // the box printed: a box that answers `/usr/bin/sudo` for `foo` must
        // not put a `sudo` on the user's PATH (issue 9).
        let command = name.map_or_else(|| default_bin_name(request).to_string(), str::to_string);
        wrapper::validate_command_name(&command)
            .map_err(|message| Error::Export { message, hint: Some("choose another name with --name".into()) })?;
        let dir = absolute(dir);
        let path = dir.join(&command);
        utf8(&path)?;
        let unexport = unexport_command(self.scope(), self.box_name, Kind::Bin, &command);
        let engine_args = engine_args(self.engine);
        let relay = self.paths.relay_socket().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let text = wrapper::render(&wrapper::Wrapper {
            command: &command,
            box_name: self.box_name,
            scope: self.scope(),
            target: &target,
            tent: &self.tent,
            engine_args: &engine_args,
            unexport: &unexport,
            relay: &relay,
            env: &crate::boxes::remote::endpoint_env(self.engine),
        });
        let export = Export {
            kind: Kind::Bin,
            name: command.clone(),
            title: None,
            request: request.into(),
            target: target.clone(),
            files: vec![path.clone()],
            dir: Some(dir.clone()),
            tent: self.tent.clone(),
        };
        let mut outcome = self.commit(export, vec![(path, text.into_bytes(), 0o755)], "--name")?;
        if !on_path(&dir) {
            outcome.warnings.push(format!(
                "{} is not on your PATH: add it (e.g. in ~/.profile: export PATH=\"{}:$PATH\") to run {command}",
                dir.display(),
                dir.display()
            ));
        }
        Ok(outcome)
    }
}

/// The name a command is exported as when `--name` is not given: the
/// request as the user typed it, or for a path, its last component.
fn default_bin_name(request: &str) -> &str {
    request.rsplit('/').next().unwrap_or(request)
}

/// Whether `dir` is on PATH (comparing real paths, so ~/.local/bin through a
/// symlink counts).
fn on_path(dir: &Path) -> bool {
    let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|p| p == dir || fs::canonicalize(&p).is_ok_and(|p| p == real))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9: the default name is the request's, whatever path the box
    /// answers with (it once named the wrapper after that path).
    #[test]
    fn default_bin_names_come_from_the_request() {
        assert_eq!(default_bin_name("foo"), "foo");
        assert_eq!(default_bin_name("/usr/local/bin/foo"), "foo");
        assert_eq!(default_bin_name("/usr/bin/"), "", "refused later as not a usable name");
    }
}
