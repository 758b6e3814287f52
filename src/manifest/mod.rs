//! Manifests: tent.toml and Distrobox assemble files, planned and applied.
//! (Being written; see issue 5.)
