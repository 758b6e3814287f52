//! The distributions `tent create --distro` knows (`src/catalog.toml`, built
//! in: shown without a network call), merged with the `[distros]` table of
//! the config files, which may pin a name to another image or add one.
//! Images are short names the engines resolve themselves; tent never names
//! a registry (docs/distros.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const BUILT_IN: &str = include_str!("catalog.toml");

/// One distribution.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Distro {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The image, with `{release}` where the release goes.
    pub image: String,
    /// The release used when none is asked for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub release: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub releases: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub package_manager: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// `built-in`, or the config's `[distros]` when it pins the name.
    #[serde(default)]
    pub source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    distro: Vec<Distro>,
}

/// The catalog: the built-in list with the config's pins over it.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub distros: Vec<Distro>,
}

pub(crate) const BUILT_IN_SOURCE: &str = "built-in";
pub(crate) const CONFIG_SOURCE: &str = "config";

impl Catalog {
    /// The built-in catalog, then `pins` (the config's `[distros]`: a name,
    /// or a name's alias, mapped to an image, `{release}` allowed in it).
    pub(crate) fn load(pins: &BTreeMap<String, String>) -> Catalog {
        let mut distros = built_in();
        for (name, image) in pins {
            let known = distros.iter_mut().find(|d| d.name == *name || d.aliases.contains(name));
            match known {
                Some(d) => {
                    d.image = image.clone();
                    d.source = CONFIG_SOURCE.into();
                }
                None => distros.push(Distro {
                    name: name.clone(),
                    aliases: Vec::new(),
                    image: image.clone(),
                    release: String::new(),
                    releases: Vec::new(),
                    package_manager: String::new(),
                    note: String::new(),
                    source: CONFIG_SOURCE.into(),
                }),
            }
        }
        Catalog { distros }
    }

    /// The distribution `name` names (its name or an alias, any case).
    pub(crate) fn find(&self, name: &str) -> Option<&Distro> {
        let name = name.to_ascii_lowercase();
        self.distros.iter().find(|d| d.name == name || d.aliases.contains(&name))
    }

    /// The image of `name` at `release` (or its default release), or an
    /// error naming the closest known name.
    pub(crate) fn image(&self, name: &str, release: Option<&str>) -> Result<String> {
        let Some(distro) = self.find(name) else {
            let hint = match self.closest(name) {
                Some(close) => format!("did you mean --distro {close}? `tent distros` lists them all"),
                None => {
                    "`tent distros` lists them all; pin any image to a name under [distros] in config.toml".to_string()
                }
            };
            return Err(Error::usage(format!("no distribution called {name:?} in tent's catalog"), Some(hint)));
        };
        let release = release.filter(|r| !r.is_empty());
        if let Some(release) = release {
            check_release(release)?;
        }
        let release = release.unwrap_or(&distro.release);
        if distro.image.contains("{release}") {
            if release.is_empty() {
                return Err(Error::usage(
                    format!("the image of --distro {} needs a release", distro.name),
                    Some(format!("give one with --release, e.g. `--distro {} --release 1`", distro.name)),
                ));
            }
            Ok(distro.image.replace("{release}", release))
        } else if release.is_empty() || release == distro.release {
            Ok(distro.image.clone())
        } else {
            Err(Error::usage(
                format!("--distro {} names one image ({}), not one per release", distro.name, distro.image),
                Some("drop --release, or write {release} in its [distros] image".into()),
            ))
        }
    }

    /// The known name (or alias) nearest to `name`, if one is near.
    pub(crate) fn closest(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        let mut best: Option<(usize, &str)> = None;
        for d in &self.distros {
            for candidate in std::iter::once(&d.name).chain(&d.aliases) {
                let mut distance = edit_distance(&name, candidate);
                if candidate.starts_with(&name) || name.starts_with(candidate.as_str()) {
                    distance = distance.min(1);
                }
                if best.is_none_or(|(b, _)| distance < b) {
                    best = Some((distance, &d.name));
                }
            }
        }
        // Near means at most a third of the word changed.
        best.filter(|(distance, _)| *distance <= name.chars().count().div_ceil(3).max(1)).map(|(_, n)| n.to_string())
    }
}

fn built_in() -> Vec<Distro> {
    let file: File = toml::from_str(BUILT_IN).expect("src/catalog.toml is checked by its tests");
    file.distro
        .into_iter()
        .map(|mut d| {
            d.source = BUILT_IN_SOURCE.into();
            d
        })
        .collect()
}

/// A release becomes part of an image's tag: the characters a tag may hold.
fn check_release(release: &str) -> Result<()> {
    let ok = !release.is_empty()
        && release.len() <= 64
        && !release.starts_with(['.', '-'])
        && release.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::usage(
            format!("--release {release:?} is not a release"),
            Some("a release is letters, digits, '.', '_' and '-', e.g. 41, 24.04 or bookworm".into()),
        ))
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load(&BTreeMap::new())
    }

    #[test]
    fn the_built_in_catalog_is_well_formed() {
        let c = catalog();
        let mut names = std::collections::BTreeSet::new();
        for d in &c.distros {
            for n in std::iter::once(&d.name).chain(&d.aliases) {
                assert!(names.insert(n.clone()), "{n} named twice");
                assert_eq!(*n, n.to_ascii_lowercase());
            }
            assert!(!d.package_manager.is_empty() && !d.release.is_empty(), "{d:?}");
            assert!(d.image.contains("{release}"), "{d:?}");
            let image = c.image(&d.name, None).unwrap();
            assert!(!image.starts_with('-') && !image.contains(char::is_whitespace), "{image}");
            // Short names only: no registry host (a first component with a
            // dot or a port, or `localhost`) anywhere in the catalog.
            let first = image.split('/').next().unwrap();
            assert!(
                !image.contains('/') || !(first.contains('.') || first.contains(':') || first == "localhost"),
                "{image} names a registry"
            );
            for release in &d.releases {
                check_release(release).unwrap();
            }
        }
        for wanted in ["fedora", "ubuntu", "debian", "arch", "opensuse", "alpine", "almalinux", "centos-stream"] {
            assert!(c.find(wanted).is_some(), "{wanted}");
        }
        for wanted in ["rocky", "wolfi", "rhel"] {
            assert!(c.find(wanted).is_some(), "{wanted}");
        }
        assert!(!BUILT_IN.contains(".io") && !BUILT_IN.contains(".org") && !BUILT_IN.contains(".com"));
    }

    #[test]
    fn names_and_releases_make_images() {
        let c = catalog();
        assert_eq!(c.image("fedora", Some("41")).unwrap(), "fedora:41");
        assert_eq!(c.image("Fedora", None).unwrap(), "fedora:latest");
        assert_eq!(c.image("ubuntu", Some("24.04")).unwrap(), "ubuntu:24.04");
        assert_eq!(c.image("debian", Some("12")).unwrap(), "debian:12");
        assert_eq!(c.image("archlinux", None).unwrap(), "archlinux:latest");
        assert_eq!(c.image("centos-stream", Some("9")).unwrap(), "centos:stream9");
        assert_eq!(c.image("rocky", None).unwrap(), "rockylinux:9");
        assert_eq!(c.image("opensuse", None).unwrap(), "opensuse/tumbleweed:latest");
        assert_eq!(c.find("rockylinux").unwrap().package_manager, "dnf");
        assert_eq!(c.find("alpine").unwrap().package_manager, "apk");
    }

    #[test]
    fn hostile_or_odd_releases_are_refused() {
        let c = catalog();
        for bad in ["-x", "41 ", "a/b", "4:1", "", ".."] {
            let err = c.image("fedora", Some(bad));
            if bad.is_empty() {
                assert_eq!(err.unwrap(), "fedora:latest");
            } else {
                assert!(err.unwrap_err().to_string().contains("is not a release"), "{bad}");
            }
        }
    }

    #[test]
    fn unknown_names_get_the_closest_one() {
        let c = catalog();
        let err = c.image("fedroa", None).unwrap_err();
        assert!(err.to_string().contains("\"fedroa\""), "{err}");
        assert!(err.hint().unwrap().contains("did you mean --distro fedora?"), "{err:?}");
        assert_eq!(c.closest("ubunt").as_deref(), Some("ubuntu"));
        assert_eq!(c.closest("arc").as_deref(), Some("arch"));
        assert_eq!(c.closest("alpin").as_deref(), Some("alpine"));
        assert_eq!(c.closest("rockylnux").as_deref(), Some("rocky"));
        assert_eq!(c.closest("centos-strem").as_deref(), Some("centos-stream"));
        assert_eq!(c.closest("windows"), None, "nothing near: no guess");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn config_pins_replace_images_and_add_names() {
        let pins = BTreeMap::from([
            ("fedora".to_string(), "fedora-toolbox:{release}".to_string()),
            ("leap".to_string(), "my/leap:15".to_string()),
            ("corp".to_string(), "corp/dev:{release}".to_string()),
            ("plain".to_string(), "plain/dev:1".to_string()),
        ]);
        let c = Catalog::load(&pins);
        assert_eq!(c.image("fedora", Some("41")).unwrap(), "fedora-toolbox:41");
        assert_eq!(c.find("fedora").unwrap().source, CONFIG_SOURCE);
        assert_eq!(c.find("ubuntu").unwrap().source, BUILT_IN_SOURCE);
        assert_eq!(c.image("opensuse-leap", None).unwrap(), "my/leap:15", "pinned through an alias");
        assert!(c.image("leap", Some("16.0")).is_err(), "one image, not one per release");
        assert_eq!(c.image("plain", None).unwrap(), "plain/dev:1");
        let err = c.image("corp", None).unwrap_err();
        assert!(err.to_string().contains("needs a release"), "{err}");
        assert_eq!(c.image("corp", Some("3")).unwrap(), "corp/dev:3");
    }
}
