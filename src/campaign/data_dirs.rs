//! Where audience data files may be read from: inside the folder of the campaign file that
//! names them, or inside a folder the deployment allows explicitly (`LOA_DATA_DIRS`,
//! `--data-dirs`; see `docs/data-files.md`).
//!
//! A campaign editor must not be able to make the daemon read its own secrets
//! (`source: /proc/self/environ`, `../../etc/shadow`, a link in `data/` pointing out), and
//! validation would show such a file's first line. Paths are compared after
//! canonicalisation, so `..` and symbolic links are followed before the check.

use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// The folders allowed besides each campaign file's own, canonical.
static EXTRA: RwLock<Vec<PathBuf>> = RwLock::new(Vec::new());

/// Allows audience data from `dirs` too, for the rest of the process. Each must be an
/// existing folder.
pub(crate) fn set_data_dirs(dirs: &[PathBuf]) -> Result<(), String> {
    let mut canonical = Vec::with_capacity(dirs.len());
    for d in dirs.iter().filter(|d| !d.as_os_str().is_empty()) {
        match d.canonicalize() {
            Ok(c) if c.is_dir() => canonical.push(c),
            _ => {
                return Err(format!(
                    "LOA_DATA_DIRS / --data-dirs: {} is not a folder",
                    d.display()
                ));
            }
        }
    }
    *EXTRA.write().unwrap_or_else(|e| e.into_inner()) = canonical;
    Ok(())
}

/// Checks that the existing file `source` lies inside `campaign_dir` (the folder of the
/// campaign file) or an allowed folder; the error says where it resolves to.
pub(crate) fn check_inside(source: &Path, campaign_dir: &Path) -> Result<(), String> {
    // `x.yaml`'s folder is the empty path: the current one.
    let dir = if campaign_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        campaign_dir
    };
    let (Ok(file), Ok(home)) = (source.canonicalize(), dir.canonicalize()) else {
        return Err(format!(
            "data file {} cannot be located (its folder or itself cannot be resolved); it is not read",
            source.display()
        ));
    };
    let extra = EXTRA.read().unwrap_or_else(|e| e.into_inner());
    if file.starts_with(&home) || extra.iter().any(|d| file.starts_with(d)) {
        return Ok(());
    }
    let resolved = if file.as_path() == source {
        String::new()
    } else {
        format!(" (it resolves to {})", file.display())
    };
    Err(format!(
        "data file {} is outside the campaign folder {}{resolved}; it is not read",
        source.display(),
        home.display()
    ))
}

/// How to fix [`check_inside`]'s error.
pub(crate) const HINT: &str = "keep audience data under the campaign folder (e.g. data/students.csv), \
     or allow its folder with LOA_DATA_DIRS=/path/one,/path/two (or --data-dirs)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_under_the_campaign_folder_are_allowed_and_others_refused() {
        let ws = tempfile::tempdir().unwrap();
        let campaigns = ws.path().join("campaigns");
        std::fs::create_dir_all(campaigns.join("data")).unwrap();
        std::fs::write(campaigns.join("data/ok.csv"), "id\n1\n").unwrap();
        std::fs::write(ws.path().join("secret.env"), "TOKEN=x\n").unwrap();
        assert_eq!(
            check_inside(&campaigns.join("data/ok.csv"), &campaigns),
            Ok(())
        );
        let up = campaigns.join("data/../../secret.env");
        let e = check_inside(&up, &campaigns).expect_err("`..` out of the folder");
        assert!(e.contains("outside the campaign folder"), "{e}");
        assert!(!e.contains("TOKEN"), "{e}");
        let e = check_inside(Path::new("/proc/self/environ"), &campaigns).expect_err("environ");
        assert!(e.contains("/proc/self/environ"), "{e}");
    }

    #[test]
    fn a_link_inside_the_folder_that_points_out_is_refused() {
        let ws = tempfile::tempdir().unwrap();
        let campaigns = ws.path().join("campaigns");
        std::fs::create_dir_all(campaigns.join("data")).unwrap();
        std::fs::write(ws.path().join("secret.csv"), "TOKEN=x\n").unwrap();
        let link = campaigns.join("data/students.csv");
        std::os::unix::fs::symlink(ws.path().join("secret.csv"), &link).unwrap();
        let e = check_inside(&link, &campaigns).expect_err("the link leads out");
        assert!(e.contains("resolves to"), "{e}");
    }
}
