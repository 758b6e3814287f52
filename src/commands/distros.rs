//! `tent distros`: the catalog `tent create --distro` reads (built in, with
//! the config's `[distros]` pins over it), as a table or as JSON.

use crate::catalog::Catalog;
use crate::cli::DistrosArgs;
use crate::config::Config;
use crate::error::Result;
use crate::output::Printer;

/// Needs no engine: the catalog is built in, the pins are config.
pub(super) fn run(config: &Config, args: &DistrosArgs, printer: &Printer) -> Result<i32> {
    let catalog = Catalog::load(&config.distros);
    if args.json {
        printer.data(serde_json::to_string_pretty(&catalog.distros).expect("the catalog serializes"));
        return Ok(0);
    }
    printer.data(render_table(&catalog));
    Ok(0)
}

fn render_table(catalog: &Catalog) -> String {
    let rows: Vec<Vec<String>> = catalog
        .distros
        .iter()
        .map(|d| {
            let mut name = d.name.clone();
            if !d.aliases.is_empty() {
                name = format!("{name} ({})", d.aliases.join(", "));
            }
            let mut image = d.image.clone();
            if d.source == crate::catalog::CONFIG_SOURCE {
                image.push_str("  [config]");
            }
            let release = if d.release.is_empty() { "-".to_string() } else { d.release.clone() };
            let pm = if d.package_manager.is_empty() { "-".to_string() } else { d.package_manager.clone() };
            let mut releases = d.releases.join(" ");
            if !d.note.is_empty() {
                releases = format!("{releases}  ({})", d.note);
            }
            vec![name, image, release, pm, releases]
        })
        .collect();
    crate::output::table(&["DISTRO", "IMAGE", "DEFAULT", "PACKAGES", "RELEASES"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_distro_its_image_and_package_manager() {
        let pins = std::collections::BTreeMap::from([("fedora".to_string(), "fedora-toolbox:{release}".to_string())]);
        let table = render_table(&Catalog::load(&pins));
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("DISTRO") && lines[0].contains("PACKAGES"), "{table}");
        let fedora = lines.iter().find(|l| l.starts_with("fedora ")).unwrap();
        assert!(fedora.contains("fedora-toolbox:{release}  [config]") && fedora.contains("dnf"), "{fedora}");
        let ubuntu = lines.iter().find(|l| l.starts_with("ubuntu ")).unwrap();
        assert!(ubuntu.contains("ubuntu:{release}") && ubuntu.contains(" apt "), "{ubuntu}");
        assert!(lines.iter().any(|l| l.starts_with("arch (archlinux)") && l.contains("pacman")), "{table}");
    }
}
