//! `--nvidia`: the host's NVIDIA userspace in a box. With a CDI spec for the
//! GPUs (podman) the engine does it; otherwise tent binds the driver's files
//! read-only, as Distrobox does, and the box's init runs ldconfig over them.
//! Discovery is a pure function over a directory tree, so it is tested on a
//! fake driver (and `TENT_HOST_ROOT` points the real thing at one).

use std::fs;
use std::path::{Path, PathBuf};

/// Where the driver's libraries appear in the box; tent-init adds it to the
/// box's ld.so.conf.d and runs ldconfig.
pub const LIB_IN_BOX: &str = "/usr/lib/tent-nvidia";

/// The CDI specs podman reads.
const CDI_SPECS: &[&str] = &["etc/cdi/nvidia.yaml", "var/run/cdi/nvidia.yaml", "run/cdi/nvidia.yaml"];

/// Host library directories, relative to the host root.
const LIB_DIRS: &[&str] = &[
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "usr/lib64",
    "usr/lib",
    "lib/x86_64-linux-gnu",
    "lib/aarch64-linux-gnu",
    "lib64",
];

const LIB_PREFIXES: &[&str] = &[
    "libnvidia-",
    "libcuda",
    "libnvcuvid",
    "libnvoptix",
    "libEGL_nvidia",
    "libGLX_nvidia",
    "libGLESv1_CM_nvidia",
    "libGLESv2_nvidia",
];

/// JSON files of the loaders, at the same path in the box.
const DATA_FILES: &[&str] = &[
    "usr/share/vulkan/icd.d/nvidia_icd.json",
    "usr/share/vulkan/implicit_layer.d/nvidia_layers.json",
    "usr/share/glvnd/egl_vendor.d/10_nvidia.json",
    "etc/vulkan/icd.d/nvidia_icd.json",
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nvidia {
    /// A CDI spec is there: `--device nvidia.com/gpu=all` does everything.
    pub cdi: bool,
    /// (host path, path in the box), each mounted read-only.
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// Device nodes (`/dev/nvidia*`) on the host.
    pub devices: Vec<PathBuf>,
}

impl Nvidia {
    /// True when there is a driver to pass in.
    pub fn found(&self) -> bool {
        self.cdi || self.binds.iter().any(|(_, dst)| dst.starts_with(LIB_IN_BOX))
    }
}

/// The NVIDIA driver files under `root` (the host's `/`).
pub fn discover(root: &Path) -> Nvidia {
    let mut out = Nvidia { cdi: CDI_SPECS.iter().any(|p| root.join(p).is_file()), ..Default::default() };
    let mut seen_libs = std::collections::BTreeSet::new();
    for dir in LIB_DIRS {
        let host_dir = root.join(dir);
        for name in sorted_names(&host_dir) {
            if name.contains(".so")
                && LIB_PREFIXES.iter().any(|p| name.starts_with(p))
                && seen_libs.insert(name.clone())
            {
                out.binds.push((host_dir.join(&name), Path::new(LIB_IN_BOX).join(&name)));
            }
        }
        // VDPAU and GBM look in their own subdirectories of the lib dir.
        for (sub, prefix) in [("vdpau", "libvdpau_nvidia"), ("gbm", "nvidia-drm_gbm")] {
            for name in sorted_names(&host_dir.join(sub)) {
                if name.starts_with(prefix) && seen_libs.insert(format!("{sub}/{name}")) {
                    out.binds.push((host_dir.join(sub).join(&name), Path::new("/").join(dir).join(sub).join(&name)));
                }
            }
        }
    }
    for file in DATA_FILES {
        if root.join(file).is_file() {
            out.binds.push((root.join(file), Path::new("/").join(file)));
        }
    }
    let platform = "usr/share/egl/egl_external_platform.d";
    for name in sorted_names(&root.join(platform)) {
        if name.contains("nvidia") {
            out.binds.push((root.join(platform).join(&name), Path::new("/").join(platform).join(&name)));
        }
    }
    for dir in ["usr/bin", "bin"] {
        for name in sorted_names(&root.join(dir)) {
            if name.starts_with("nvidia-") && !out.binds.iter().any(|(_, d)| d.file_name() == Some(name.as_ref())) {
                out.binds.push((root.join(dir).join(&name), Path::new("/usr/bin").join(&name)));
            }
        }
    }
    // The firmware of the installed driver version (GSP), by its directory.
    for dir in ["lib/firmware/nvidia", "usr/lib/firmware/nvidia"] {
        for name in sorted_names(&root.join(dir)) {
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                out.binds.push((root.join(dir).join(&name), Path::new("/").join(dir).join(&name)));
            }
        }
    }
    for name in sorted_names(&root.join("dev")) {
        if name.starts_with("nvidia") {
            out.devices.push(root.join("dev").join(name));
        }
    }
    out
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// The host root for discovery: `TENT_HOST_ROOT`, else `/`.
pub fn host_root() -> PathBuf {
    std::env::var_os(crate::env_vars::TENT_HOST_ROOT)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "x").unwrap();
    }

    #[test]
    fn an_empty_host_has_no_driver() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "usr/lib/x86_64-linux-gnu/libc.so.6");
        let found = discover(dir.path());
        assert!(!found.found());
        assert_eq!(found, Nvidia::default());
    }

    #[test]
    fn a_driver_tree_is_found_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        for f in [
            "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.1",
            "usr/lib/x86_64-linux-gnu/libcuda.so.1",
            "usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0",
            "usr/lib/x86_64-linux-gnu/libm.so.6",
            "usr/lib/x86_64-linux-gnu/vdpau/libvdpau_nvidia.so.1",
            "usr/lib/x86_64-linux-gnu/gbm/nvidia-drm_gbm.so",
            "lib/x86_64-linux-gnu/libcuda.so.1",
            "usr/share/vulkan/icd.d/nvidia_icd.json",
            "usr/share/glvnd/egl_vendor.d/10_nvidia.json",
            "usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json",
            "usr/bin/nvidia-smi",
            "usr/bin/vim",
            "lib/firmware/nvidia/550.1/gsp.bin",
            "dev/nvidia0",
            "dev/nvidiactl",
            "dev/null",
        ] {
            touch(r, f);
        }
        let found = discover(r);
        assert!(found.found() && !found.cdi);
        let dsts: Vec<String> = found.binds.iter().map(|(_, d)| d.display().to_string()).collect();
        assert_eq!(
            dsts,
            [
                "/usr/lib/tent-nvidia/libGLX_nvidia.so.0",
                "/usr/lib/tent-nvidia/libcuda.so.1",
                "/usr/lib/tent-nvidia/libnvidia-ml.so.550.1",
                "/usr/lib/x86_64-linux-gnu/vdpau/libvdpau_nvidia.so.1",
                "/usr/lib/x86_64-linux-gnu/gbm/nvidia-drm_gbm.so",
                "/usr/share/vulkan/icd.d/nvidia_icd.json",
                "/usr/share/glvnd/egl_vendor.d/10_nvidia.json",
                "/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json",
                "/usr/bin/nvidia-smi",
                "/lib/firmware/nvidia/550.1",
            ]
        );
        assert_eq!(found.binds[1].0, r.join("usr/lib/x86_64-linux-gnu/libcuda.so.1"), "the first lib dir wins");
        assert_eq!(found.devices, [r.join("dev/nvidia0"), r.join("dev/nvidiactl")]);
    }

    #[test]
    fn a_cdi_spec_is_enough() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "etc/cdi/nvidia.yaml");
        let found = discover(dir.path());
        assert!(found.cdi && found.found());
    }
}
