//! devcontainer.json variables, expanded as data: `${localEnv:VAR}`,
//! `${localEnv:VAR:default}` (also `${env:…}`), `${localWorkspaceFolder}`,
//! `${containerWorkspaceFolder}`, their `…Basename`, and `${devcontainerId}`.
//! Nothing is ever given to a shell here; a value is only substituted once
//! (a variable's value is not expanded again), and every result is capped.

/// Largest value one string may expand to.
pub(super) const MAX_EXPANDED: usize = 64 * 1024;

/// What the variables stand for, for one file.
pub(super) struct Vars<'a> {
    /// The host's environment (`localEnv`).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The project folder on the host; the box sees it at the same path.
    pub workspace: String,
    pub devcontainer_id: String,
    /// `${containerEnv:VAR}` in remoteEnv: the box's containerEnv, when it sets VAR.
    pub container_env: Option<std::collections::BTreeMap<String, String>>,
}

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Problem {
    /// Expanded past `MAX_EXPANDED`.
    TooLong,
    /// `${containerEnv:VAR}` for a VAR only the image knows.
    ContainerEnv(String),
}

/// Expands the variables of `text`. Unknown variables are kept as written
/// and named in `unknown` (the devcontainers CLI keeps them too).
pub(super) fn expand(text: &str, vars: &Vars<'_>, unknown: &mut Vec<String>) -> Result<String, Problem> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &after[..end];
        match lookup(inner, vars)? {
            Some(value) => out.push_str(&value),
            None => {
                unknown.push(format!("${{{inner}}}"));
                out.push_str(&rest[start..start + 2 + end + 1]);
            }
        }
        if out.len() > MAX_EXPANDED {
            return Err(Problem::TooLong);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if out.len() > MAX_EXPANDED {
        return Err(Problem::TooLong);
    }
    Ok(out)
}

fn lookup(inner: &str, vars: &Vars<'_>) -> Result<Option<String>, Problem> {
    let basename = || vars.workspace.rsplit('/').find(|s| !s.is_empty()).unwrap_or("/").to_string();
    Ok(Some(match inner {
        "localWorkspaceFolder" | "containerWorkspaceFolder" => vars.workspace.clone(),
        "localWorkspaceFolderBasename" | "containerWorkspaceFolderBasename" => basename(),
        "devcontainerId" => vars.devcontainer_id.clone(),
        _ => {
            let Some((scope, spec)) = inner.split_once(':') else { return Ok(None) };
            // VAR or VAR:default; the default may itself hold colons.
            let (name, default) = match spec.split_once(':') {
                Some((name, default)) => (name, Some(default)),
                None => (spec, None),
            };
            match scope {
                "localEnv" | "env" => (vars.env)(name).or(default.map(str::to_string)).unwrap_or_default(),
                "containerEnv" => match vars.container_env.as_ref().and_then(|env| env.get(name)) {
                    Some(value) => value.clone(),
                    None => match default {
                        Some(default) => default.to_string(),
                        None => return Err(Problem::ContainerEnv(name.to_string())),
                    },
                },
                _ => return Ok(None),
            }
        }
    }))
}
