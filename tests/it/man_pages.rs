//! Issue 22: man pages in boxes. Minimal images tell dpkg to drop
//! documentation (Ubuntu's `/etc/dpkg/dpkg.cfg.d/excludes`, Debian slim's);
//! tent-init undoes that at provisioning, so a package installed in the box
//! afterwards keeps its man page. The Debian test image strips nothing, so
//! the test plants Ubuntu's file before provisioning (a pre-init hook), and
//! first shows, in a plain container of the same image, that the planted
//! file does drop the page.

use crate::engine_tests;
use crate::harness::{BOOKWORM, Engine, Sandbox};

engine_tests!(packages_installed_in_a_box_keep_their_man_pages);

/// Ubuntu's minimal images' file, in its shape.
const EXCLUDES: &str = "printf '%s\\n' 'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/doc/*' \
                        'path-include=/usr/share/doc/*/copyright' > /etc/dpkg/dpkg.cfg.d/excludes";
/// A tiny package with a man page, from the mirror boxes reach.
const INSTALL: &str = "apt-get -q update >/dev/null && apt-get -q -y install hello >/dev/null";
const PAGE: &str = "/usr/share/man/man1/hello.1.gz";

fn packages_installed_in_a_box_keep_their_man_pages(engine: Engine) {
    let sb = Sandbox::new(engine);

    // The control: without tent, the planted file drops the page.
    let script = format!("{EXCLUDES} && {INSTALL} && test -x /usr/bin/hello && ! test -e {PAGE} && echo dropped");
    let out = sb.engine_cmd(&["run", "--rm", "--network", "host", BOOKWORM, "sh", "-c", &script]).ok();
    assert_eq!(out.stdout(), "dropped\n", "{}", out.describe());

    let name = sb.create("man", BOOKWORM, &["--pre-init-hook", EXCLUDES]);
    let script = format!("{INSTALL} && test -e {PAGE} && echo kept");
    let out = sb.tent(&["run", "--as-root", &name, "--", "sh", "-c", &script]).ok();
    assert_eq!(out.stdout(), "kept\n", "{}", out.describe());
    // The image's file stays as it was; tent's, read after it, re-includes.
    let out = sb
        .tent(&["run", &name, "--", "sh", "-c", "cat /etc/dpkg/dpkg.cfg.d/excludes /etc/dpkg/dpkg.cfg.d/zz-tent-docs"])
        .ok();
    let text = out.stdout();
    assert!(text.starts_with("path-exclude=/usr/share/man/*\n"), "{}", out.describe());
    assert!(text.contains("path-include=/usr/share/man/*\n"), "{}", out.describe());
}
