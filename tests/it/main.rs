//! Integration tests: the real `tent` binary, one module per feature. Real
//! engines through `harness`; CLI error paths need no engine.

mod harness;
/// The unit tests' helpers, the same file (`write_script`).
#[path = "../../src/test_support.rs"]
mod test_support;

mod adopt;
mod between;
mod catalog;
mod cli;
mod core;
mod create_options;
mod devcontainer;
mod devcontainer_attach;
mod devcontainer_compose;
mod devcontainer_features;
mod distro;
mod doctor;
mod editors;
mod export;
mod gui;
mod host;
mod host_access;
mod idle;
mod join;
mod man_pages;
mod manifest;
mod ptyxis;
mod relay_attack;
mod relay_files;
mod remote;
mod remote_docker;
mod remote_local;
mod remove;
mod services;
mod snapshot;
mod trust;
mod trust_export;
mod trust_files;
mod trust_misc;
mod trust_rootful;
mod trust_stop;
