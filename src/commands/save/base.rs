//! Box files without their base image's layers (`tent save --without-base`,
//! box file format 3). A box's system is its base image's layers with the
//! box's own on top; a machine that already has the base image needs only
//! the box's own, often a tenth of the file or less.
//!
//! The engines load such an archive when they already hold the layers it
//! leaves out (podman 4.3 and Docker 20.10, docs/performance.md): Docker's
//! `load` skips a layer it has (by its chain) without opening its file;
//! podman's (containers/image) reuses a layer its store holds by its digest
//! without reading it, but wants a file at every layer path the manifest
//! names, so `load` puts an empty one there. Before anything streams, tent
//! checks that the engine has the base image (by its name, else by its id)
//! whose layers begin with those the file leaves out; an engine that read
//! a stand-in file would fail its digest check and load nothing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::engine::json::is_layer_digest;
use crate::error::{Error, Result};

/// The box file format of a file without its base image's layers. Files
/// with their whole image stay format 2, which older tents load.
pub(super) const FORMAT_WITHOUT_BASE: u32 = 3;

/// The most layers a file's base may name (images have tens at most).
const MAX_LAYERS: usize = 256;

/// The image a format-3 file's image is built on, which it leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Base {
    /// The image the box was made from: the name its spec gives, or its id.
    pub image: String,
    /// Its id where the file was written (64 hex digits).
    pub id: String,
    /// Its layers (`sha256:HEX` diff ids), bottom first: the first layers of
    /// the file's image, none of which the file holds.
    pub layers: Vec<String>,
}

impl Base {
    /// Whether a file's base is one tent writes: a file is a stranger's
    /// input, and the image and id reach an engine's argv.
    pub(super) fn check(&self) -> std::result::Result<(), String> {
        crate::boxes::spec::validate_image(&self.image).map_err(|e| format!("its base image: {e}"))?;
        if !crate::text::is_sha256_hex(&self.id) {
            return Err(format!("its base image's id {:?} is not 64 hex digits", self.id));
        }
        if self.layers.is_empty() || self.layers.len() > MAX_LAYERS {
            return Err(format!("its base image names {} layers (1 to {MAX_LAYERS})", self.layers.len()));
        }
        if let Some(bad) = self.layers.iter().find(|l| !is_layer_digest(l)) {
            return Err(format!("its base image's layer {bad:?} is not a sha256 digest"));
        }
        Ok(())
    }

    /// Whether the base has the layer whose diff id is `sha256:HEX`.
    pub(super) fn holds(&self, hex: &str) -> bool {
        self.layers.iter().any(|l| l.strip_prefix("sha256:") == Some(hex))
    }

    fn describe(&self) -> String {
        let layers =
            if self.layers.len() == 1 { "1 layer".to_string() } else { format!("{} layers", self.layers.len()) };
        if self.image == self.id {
            format!("image {} ({layers})", self.id)
        } else {
            format!("image {} (id {}, {layers})", self.image, &self.id[..12])
        }
    }
}

/// The images box `name` may be saved without: the image its spec names,
/// then the one its container was made from (`image_id`, its `tent.image-id`
/// label), as the engine has them now. Known before the box is committed,
/// so a base that is gone fails at once.
pub(super) fn candidates(engine: &Engine, name: &str, spec_image: &str, image_id: Option<&str>) -> Result<Vec<Base>> {
    let mut found: Vec<Base> = Vec::new();
    let by_id = image_id.filter(|id| crate::text::is_sha256_hex(id));
    for image in std::iter::once(spec_image).chain(by_id) {
        if let Some((id, layers)) = engine.image_layers(image)?
            && !found.iter().any(|b| b.id == id)
        {
            found.push(Base { image: image.to_string(), id, layers });
        }
    }
    if found.is_empty() {
        return Err(Error::Snapshot {
            message: format!(
                "box {name:?} was made from {spec_image}, which {} no longer has: tent cannot tell which layers are the box's own",
                engine.describe()
            ),
            hint: Some(format!("save it whole: `tent save {name} -o FILE`")),
        });
    }
    Ok(found)
}

/// The first of `candidates` whose layers are the bottom of `committed`
/// (the layers of the box's committed system).
pub(super) fn choose(name: &str, candidates: Vec<Base>, committed: &[String]) -> Result<Base> {
    let spec_image = candidates.first().map(|b| b.image.clone()).unwrap_or_default();
    candidates.into_iter().find(|b| committed.starts_with(&b.layers)).ok_or_else(|| Error::Snapshot {
        message: format!(
            "box {name:?}'s system is not built on the layers {spec_image} has now (the image changed since the box was made)"
        ),
        hint: Some(format!("save it whole: `tent save {name} -o FILE`")),
    })
}

/// Says, before a format-3 file streams into the engine, whether the
/// engine has every layer the file leaves out: the base image by its name,
/// else by its id, whose layers begin with the file's. (Another image with
/// the same layers would do for the engine too; tent looks only at these two.)
pub(super) fn check_present(engine: &Engine, base: &Base, file: &std::path::Path) -> Result<()> {
    let same = |image: &str| -> Result<bool> {
        Ok(engine.image_layers(image)?.is_some_and(|(_, layers)| layers.starts_with(&base.layers)))
    };
    if same(&base.image)? || (base.id != base.image && same(&base.id)?) {
        return Ok(());
    }
    Err(Error::Snapshot {
        message: format!(
            "{} holds only the box's own layers, and {} does not have the {} they are built on",
            file.display(),
            engine.describe(),
            base.describe()
        ),
        hint: Some(format!(
            "get that image on this engine first (`{} pull {}` when its registry still serves that very version), \
             or save the box again whole, without --without-base, and load that file",
            engine.name(),
            base.image
        )),
    })
}

/// What an entry of the engine's save archive is to a save without `base`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LayerFile {
    /// A layer file named by its digest (podman's `HEX.tar`) that the base
    /// has: left out, its content checked against its name.
    Base(String),
    /// Docker's `FOLDER/layer.tar`: a name that says nothing of its content.
    Folder(String),
    /// Docker's `FOLDER/json`, which names the folder of the layer below.
    FolderJson(String),
    /// Anything else, kept.
    Other,
}

/// Which [`LayerFile`] the regular file at `path` of a save archive is.
pub(super) fn layer_file(path: &str, base: &Base) -> LayerFile {
    if let Some(hex) = path.strip_suffix(".tar").filter(|h| crate::text::is_sha256_hex(h)) {
        return if base.holds(hex) { LayerFile::Base(hex.to_string()) } else { LayerFile::Other };
    }
    let folder = |suffix: &str| path.strip_suffix(suffix).filter(|d| !d.is_empty() && !d.contains('/'));
    if let Some(dir) = folder("/layer.tar") {
        return LayerFile::Folder(dir.to_string());
    }
    if let Some(dir) = folder("/json") {
        return LayerFile::FolderJson(dir.to_string());
    }
    LayerFile::Other
}

/// Docker's layer folders as their `json` files name them: each one's
/// parent folder, None for the bottom layer's. Docker writes a folder's
/// `json` before its `layer.tar` (its archive is in name order), so a layer
/// whose folders down to the bottom came first is known by its depth.
#[derive(Debug, Default)]
pub(super) struct Chain {
    parents: HashMap<String, Option<String>>,
}

impl Chain {
    /// Notes folder `dir`'s `json`; one that is not Docker's v1 JSON is not noted.
    pub(super) fn note(&mut self, dir: &str, json: &[u8]) {
        #[derive(Deserialize)]
        struct V1 {
            #[serde(default)]
            parent: Option<String>,
        }
        if let Ok(v1) = serde_json::from_slice::<V1>(json) {
            self.parents.insert(dir.to_string(), v1.parent.filter(|p| !p.is_empty()));
        }
    }

    /// At least how many layers are below folder `dir`'s: one for each
    /// parent named by the folders noted so far.
    pub(super) fn depth_at_least(&self, dir: &str) -> usize {
        let mut at = dir;
        for depth in 0..=self.parents.len() {
            match self.parents.get(at) {
                Some(Some(parent)) => at = parent,
                _ => return depth,
            }
        }
        self.parents.len()
    }

    /// How many layers are below folder `dir`'s, when every folder down to
    /// the bottom one was noted.
    pub(super) fn depth(&self, dir: &str) -> Option<usize> {
        let mut at = dir;
        for depth in 0..=self.parents.len() {
            match self.parents.get(at)? {
                None => return Some(depth),
                Some(parent) => at = parent,
            }
        }
        None
    }
}

/// The path inside an archive that the link at `path` (to `target`) points
/// at: a symbolic link's target is relative to its folder, a hard link's is
/// a path of the archive. None when it leaves the archive.
pub(super) fn link_target(path: &str, target: &str, symbolic: bool) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    if symbolic {
        parts.extend(path.split('/'));
        parts.pop();
    }
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The layer paths of a format-3 file's image that the engine's `load` must
/// find a file at and the file does not hold: where each of the manifest's
/// `layers` leads (through `links`, resolved by [`link_target`]) when no
/// file is there (`present` says). Each must be one of the base's, at its place:
/// the image's config names (`diff_ids`, bottom first) the base's layers
/// first, and a missing layer is one of them. Otherwise the file is refused.
pub(super) fn stand_ins(
    layers: &[String],
    diff_ids: &[String],
    present: impl Fn(&str) -> bool,
    links: &HashMap<String, String>,
    base: &Base,
) -> std::result::Result<Vec<String>, String> {
    if !diff_ids.starts_with(&base.layers) {
        return Err(format!(
            "its image's config does not begin with the {} layers of its base image {}",
            base.layers.len(),
            base.image
        ));
    }
    if layers.len() != diff_ids.len() {
        return Err(format!("its manifest names {} layers, its config {}", layers.len(), diff_ids.len()));
    }
    let mut missing = Vec::new();
    for (i, path) in layers.iter().enumerate() {
        // A chain of links is followed a few steps at most.
        let mut at = path.clone();
        for _ in 0..4 {
            match links.get(&at) {
                Some(next) => at = next.clone(),
                None => break,
            }
        }
        if present(&at) {
            continue;
        }
        if i >= base.layers.len() {
            return Err(format!("it lacks layer {} ({path}), which is the box's own, not its base image's", i + 1));
        }
        if !missing.contains(&at) {
            missing.push(at);
        }
    }
    Ok(missing)
}

/// The `rootfs.diff_ids` of an image's config.
pub(super) fn diff_ids(config: &[u8]) -> std::result::Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct Config {
        rootfs: RootFs,
    }
    #[derive(Deserialize)]
    struct RootFs {
        diff_ids: Vec<String>,
    }
    let config: Config = serde_json::from_slice(config).map_err(|e| format!("its image's config: {e}"))?;
    Ok(config.rootfs.diff_ids)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn base(layers: &[char]) -> Base {
        Base {
            image: "debian:bookworm".into(),
            id: "f".repeat(64),
            layers: layers.iter().map(|c| digest(*c)).collect(),
        }
    }

    #[test]
    fn a_files_base_is_checked_before_it_reaches_an_engine() {
        assert_eq!(base(&['a']).check(), Ok(()));
        let mut b = base(&['a']);
        b.image = "--privileged".into();
        assert!(b.check().unwrap_err().contains("begins with '-'"));
        let mut b = base(&['a']);
        b.id = "../x".into();
        assert!(b.check().unwrap_err().contains("64 hex"));
        assert!(base(&[]).check().unwrap_err().contains("0 layers"));
        let mut b = base(&['a']);
        b.layers = vec!["sha256:zz".into()];
        assert!(b.check().unwrap_err().contains("not a sha256"));
        let mut b = base(&['a']);
        b.layers = vec![digest('a'); MAX_LAYERS + 1];
        assert!(b.check().is_err());
    }

    #[test]
    fn podman_names_its_layer_files_by_digest_and_docker_does_not() {
        let b = base(&['a', 'b']);
        let a = "a".repeat(64);
        assert_eq!(layer_file(&format!("{a}.tar"), &b), LayerFile::Base(a.clone()));
        assert_eq!(layer_file(&format!("{}.tar", "c".repeat(64)), &b), LayerFile::Other, "the box's own");
        assert_eq!(layer_file("0123abcd/layer.tar", &b), LayerFile::Folder("0123abcd".into()));
        assert_eq!(layer_file("0123abcd/json", &b), LayerFile::FolderJson("0123abcd".into()));
        for other in
            ["manifest.json", &format!("{a}.json"), "x/y/layer.tar", "/layer.tar", "layer.tar", "ab.tar", "x/VERSION"]
        {
            assert_eq!(layer_file(other, &b), LayerFile::Other, "{other}");
        }
    }

    #[test]
    fn a_docker_layer_is_known_by_its_depth_once_the_folders_below_it_came() {
        let mut chain = Chain::default();
        chain.note("top", br#"{"id":"top","parent":"mid"}"#);
        assert_eq!(chain.depth("top"), None, "its parent's folder has not come yet");
        assert_eq!(chain.depth_at_least("top"), 1, "but it has a parent");
        assert_eq!(chain.depth_at_least("unknown"), 0);
        chain.note("bottom", br#"{"id":"bottom","created":"1970-01-01T00:00:00Z"}"#);
        chain.note("mid", br#"{"id":"mid","parent":"bottom"}"#);
        assert_eq!((chain.depth("bottom"), chain.depth("mid"), chain.depth("top")), (Some(0), Some(1), Some(2)));
        assert_eq!(chain.depth_at_least("top"), 2);
        assert_eq!(chain.depth("elsewhere"), None);
        // A loop (no engine writes one) ends.
        chain.note("a", br#"{"parent":"b"}"#);
        chain.note("b", br#"{"parent":"a"}"#);
        assert_eq!(chain.depth("a"), None);
        assert!(chain.depth_at_least("a") <= 6);
        chain.note("junk", b"not json");
        assert_eq!(chain.depth("junk"), None);
    }

    #[test]
    fn links_resolve_inside_the_archive_only() {
        assert_eq!(link_target("d/layer.tar", "../x.tar", true).as_deref(), Some("x.tar"));
        assert_eq!(link_target("d/layer.tar", "y/./x.tar", true).as_deref(), Some("d/y/x.tar"));
        assert_eq!(link_target("d/layer.tar", "x.tar", false).as_deref(), Some("x.tar"));
        assert_eq!(link_target("d/layer.tar", "../../x.tar", true), None);
        assert_eq!(link_target("d/layer.tar", "/etc/passwd", true), None);
        assert_eq!(link_target("layer.tar", "..", true), None);
    }

    /// The archive holds files at these paths.
    fn files(items: &[&str]) -> impl Fn(&str) -> bool {
        let set: HashSet<String> = items.iter().map(|s| s.to_string()).collect();
        move |path| set.contains(path)
    }

    #[test]
    fn stand_ins_go_where_each_engine_looks_for_the_base_layers() {
        let b = base(&['a']);
        let ids = [digest('a'), digest('b')];
        // Docker's archive: folders, the base's layer.tar left out.
        let layers = ["d1/layer.tar".to_string(), "d2/layer.tar".to_string()];
        let got = stand_ins(&layers, &ids, files(&["d2/layer.tar"]), &HashMap::new(), &b).unwrap();
        assert_eq!(got, ["d1/layer.tar"]);
        // podman's: the folders' layer.tar are links to HEX.tar files.
        let links: HashMap<String, String> = [
            ("d1/layer.tar".to_string(), format!("{}.tar", "a".repeat(64))),
            ("d2/layer.tar".to_string(), format!("{}.tar", "b".repeat(64))),
        ]
        .into();
        let got = stand_ins(&layers, &ids, files(&[&format!("{}.tar", "b".repeat(64))]), &links, &b).unwrap();
        assert_eq!(got, [format!("{}.tar", "a".repeat(64))]);
        // A whole image needs none.
        let all = files(&["d1/layer.tar", "d2/layer.tar"]);
        assert!(stand_ins(&layers, &ids, all, &HashMap::new(), &b).unwrap().is_empty());
    }

    #[test]
    fn a_file_that_lacks_the_boxs_own_layers_or_lies_about_its_base_is_refused() {
        let b = base(&['a']);
        let layers = ["d1/layer.tar".to_string(), "d2/layer.tar".to_string()];
        let ids = [digest('a'), digest('b')];
        let why = stand_ins(&layers, &ids, files(&["d1/layer.tar"]), &HashMap::new(), &b).unwrap_err();
        assert!(why.contains("layer 2") && why.contains("box's own"), "{why}");
        // Its config does not start with the base it names.
        let why = stand_ins(&layers, &[digest('c'), digest('b')], files(&[]), &HashMap::new(), &b).unwrap_err();
        assert!(why.contains("does not begin with"), "{why}");
        // Manifest and config disagree.
        let why = stand_ins(&layers[..1], &ids, files(&[]), &HashMap::new(), &b).unwrap_err();
        assert!(why.contains("manifest names 1"), "{why}");
    }

    #[test]
    fn a_box_is_saved_without_the_base_its_system_is_built_on() {
        let committed = [digest('a'), digest('b'), digest('c')];
        let moved = base(&['x']);
        let right = Base { image: "e".repeat(64), id: "e".repeat(64), layers: vec![digest('a'), digest('b')] };
        let chosen = choose("dev", vec![moved.clone(), right.clone()], &committed).unwrap();
        assert_eq!(chosen, right);
        let err = choose("dev", vec![moved], &committed).unwrap_err().to_string();
        assert!(err.contains("debian:bookworm") && err.contains("changed"), "{err}");
    }

    #[test]
    fn diff_ids_come_from_the_config() {
        let config = br#"{"architecture":"amd64","rootfs":{"type":"layers","diff_ids":["sha256:aa","sha256:bb"]}}"#;
        assert_eq!(diff_ids(config).unwrap(), ["sha256:aa", "sha256:bb"]);
        assert!(diff_ids(b"{}").is_err());
    }
}
