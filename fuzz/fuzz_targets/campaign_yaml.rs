//! Campaign YAML → validated model: any bytes as a campaign file, loaded with the shipped
//! templates and the sample data beside it, exactly as `loa validate` does (every row read).
//! Diagnostics are the expected answer; a panic, an abort or a hang is a finding.

#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use loa::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace};

fuzz_target!(|data: &[u8]| {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = common::scratch().join("campaign");
        for file in ["schools.csv", "staff.csv", "students.csv"] {
            let bytes = std::fs::read(common::repo().join("campaigns/data").join(file))
                .expect("sample data");
            common::write(&dir.join("data").join(file), &bytes);
        }
        dir
    });
    let file = dir.join("campaign.yaml");
    common::write(&file, data);
    let templates = common::repo().join("templates");
    let opts = LoadOptions {
        env: EnvPolicy::Optional,
        data: DataScan::Full,
    };
    let lookup = |name: &str| (name == "LOA_FUZZ").then(|| "value".to_string());
    let (workspace, diags) = Workspace::load_with_env(&[file], &templates, opts, &lookup);
    // Validation either gives a workspace or says why not, never both nor neither.
    assert_eq!(workspace.is_some(), !diags.has_errors());
});
