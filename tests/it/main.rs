//! Integration tests: the real `tent` binary, one module per feature. Real
//! engines through `harness`; CLI error paths need no engine.

mod harness;

mod between;
mod cli;
mod core;
mod distro;
mod export;
mod host;
mod manifest;
mod trust_export;
