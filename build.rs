//! Links GCC's unwinder statically on GNU/Linux.
//!
//! Rust's standard library asks for `libgcc_s.so.1`, which every start of
//! tent would then load and relocate, and whose constructor probes the CPU
//! with `cpuid` (a trap to the hypervisor in a VM): about 5 % of the start-up
//! of `tent run` and 20 page faults, measured with `perf` (docs/performance.md).
//! tent aborts on panic and never unwinds, so the static copy (`libgcc_eh.a`,
//! what `gcc -static-libgcc` links, shipped with GCC) only serves backtraces.
//! Named before the standard library on the link line, it satisfies the
//! unwinder's symbols, and `--as-needed` then drops `libgcc_s`.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let gnu = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|o| o == "linux");
    if gnu && linux {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}
