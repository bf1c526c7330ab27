//! What an approver approves: one hash over the exact content of a campaign
//! (docs/approval.md#what-is-approved).
//!
//! It covers the campaign file as written, every file of every template the campaign uses
//! (each step's `template:` folder and each webhook channel's `body:` folder), and for each
//! audience its data file's columns (the header row, in order) with their declared types.
//! It leaves out the data rows: the data is replaced every week, and that must not call for
//! a new approval. Adding, removing or renaming a column does, since templates and `where`
//! read columns by name.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};

use super::count::{StepOccurrences, count_matching};
use super::model::Campaign;
use crate::audience::CsvSource;
use crate::render::Renderer;

/// The approval hash of `campaign`, whose templates are folders under `templates`: 32 hex
/// digits (the first half of a SHA-256), written `sha256:…` nowhere, just the digits.
pub fn approval_hash(campaign: &Campaign, templates: &Path) -> Result<String> {
    let mut hash = Sha256::new();
    hash.update(b"loa-approval-v1");
    let file = std::fs::read(&campaign.file)
        .with_context(|| format!("reading {}", campaign.file.display()))?;
    field(&mut hash, b"campaign");
    field(&mut hash, &file);
    for name in template_names(campaign) {
        field(&mut hash, b"template");
        field(&mut hash, name.as_bytes());
        for path in files_under(&templates.join(&name)) {
            let rel = path.strip_prefix(templates).unwrap_or(&path);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            field(&mut hash, rel.to_string_lossy().as_bytes());
            field(&mut hash, &bytes);
        }
    }
    for (name, a) in &campaign.audiences {
        let source = CsvSource::open(&a.source, &a.columns)
            .with_context(|| format!("reading the columns of {}", a.source.display()))?;
        field(&mut hash, b"audience");
        field(&mut hash, name.as_bytes());
        for column in source.headers() {
            field(&mut hash, column.as_bytes());
            let declared = a.columns.get(column).map(|t| format!("{t:?}"));
            field(&mut hash, declared.unwrap_or_default().as_bytes());
        }
    }
    let digest = hash.finalize();
    Ok(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
}

/// How many different approvers the version of `campaign` now loaded needs: 2 when it
/// says `approval: { second_above: N }` and one of its steps reaches more than N
/// recipients at an occurrence (counted on today's data as `loa plan` counts), else 1.
pub fn approvers_needed(campaign: &Campaign, renderer: &Renderer) -> Result<u8> {
    let Some(limit) = campaign.second_approver_above else {
        return Ok(1);
    };
    let mut at = StepOccurrences::new();
    for step in &campaign.steps {
        let occ = crate::schedule::occurrences(&campaign.calendar, &step.schedule)
            .with_context(|| format!("step {}", step.id))?;
        let times = occ.kept.iter().map(|o| (o.at, o.n)).collect();
        at.insert(step.id.clone(), times);
    }
    let counts = count_matching(campaign, renderer, &at, |_| {})?;
    Ok(if counts.values().any(|n| *n > limit) {
        2
    } else {
        1
    })
}

/// One field, its length in front: no two different field lists hash the same bytes.
fn field(hash: &mut Sha256, bytes: &[u8]) {
    hash.update((bytes.len() as u64).to_be_bytes());
    hash.update(bytes);
}

/// The template folders the campaign reads, each once, in order.
fn template_names(campaign: &Campaign) -> BTreeSet<String> {
    let steps = campaign.steps.iter().map(|s| s.template.clone());
    let bodies = campaign.channels.values().filter_map(|c| c.body.clone());
    steps.chain(bodies).collect()
}

/// Every file under `dir`, sorted; none when it does not exist.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::approval_hash;
    use crate::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace};

    fn campaign(dir: &Path) {
        crate::campaign::test_support::three_people_and_a_note(dir);
        let yaml = "campaign: h1\ntitle: H1\nstatus: active\ntimezone: UTC\n\
             period: { start: 2026-09-01, end: 2026-09-30 }\n\
             audiences:\n  people:\n    source: data/people.csv\n    key: id\n\
             channels:\n  mail:\n    type: smtp\n    url: \"smtp://127.0.0.1:2525\"\n    \
             from: \"Loa <loa@example.test>\"\nsteps:\n  - id: s0\n    audience: people\n    \
             channel: mail\n    template: note\n    send: { at: \"2026-09-02 08:00\" }\n";
        std::fs::write(dir.join("campaigns/h1.yaml"), yaml).unwrap();
    }

    fn opts() -> LoadOptions {
        LoadOptions {
            env: EnvPolicy::Optional,
            data: DataScan::Headers,
        }
    }

    fn load(dir: &Path) -> Workspace {
        let (ws, diags) = Workspace::load(&[dir.join("campaigns")], &dir.join("templates"), opts());
        ws.unwrap_or_else(|| panic!("{diags}"))
    }

    fn hash(dir: &Path) -> String {
        let ws = load(dir);
        approval_hash(&ws.campaigns[0], &ws.templates).unwrap()
    }

    #[test]
    fn the_same_files_hash_alike() {
        let dir = tempfile::tempdir().unwrap();
        campaign(dir.path());
        assert_eq!(hash(dir.path()), hash(dir.path()));
        assert_eq!(hash(dir.path()).len(), 32);
    }

    #[test]
    fn a_template_edit_changes_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        campaign(dir.path());
        let before = hash(dir.path());
        std::fs::write(
            dir.path().join("templates/note/text.tera"),
            "Kính gửi anh/chị",
        )
        .unwrap();
        assert_ne!(hash(dir.path()), before);
    }

    #[test]
    fn other_data_rows_leave_the_hash_alone() {
        let dir = tempfile::tempdir().unwrap();
        campaign(dir.path());
        let before = hash(dir.path());
        std::fs::write(
            dir.path().join("campaigns/data/people.csv"),
            "id,email\nr7,r7@example.test\n",
        )
        .unwrap();
        assert_eq!(hash(dir.path()), before);
    }

    #[test]
    fn a_data_column_added_changes_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        campaign(dir.path());
        let before = hash(dir.path());
        std::fs::write(
            dir.path().join("campaigns/data/people.csv"),
            "id,email,district\nr0,r0@example.test,Q1\n",
        )
        .unwrap();
        assert_ne!(hash(dir.path()), before);
    }

    #[test]
    fn a_campaign_file_edit_changes_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        campaign(dir.path());
        let before = hash(dir.path());
        let file = dir.path().join("campaigns/h1.yaml");
        let yaml = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, yaml.replace("08:00", "09:00")).unwrap();
        assert_ne!(hash(dir.path()), before);
    }

    #[test]
    fn a_step_above_second_above_needs_two_approvers() {
        let dir = tempfile::tempdir().unwrap();
        campaign(dir.path());
        let file = dir.path().join("campaigns/h1.yaml");
        let yaml = std::fs::read_to_string(&file).unwrap();
        for (limit, needed) in [(2, 2), (3, 1)] {
            let with = format!("{yaml}approval: {{ second_above: {limit} }}\n");
            std::fs::write(&file, with).unwrap();
            let ws = load(dir.path());
            let n = super::approvers_needed(&ws.campaigns[0], &ws.renderer).unwrap();
            assert_eq!(n, needed, "three recipients, second_above {limit}");
        }
    }

    #[test]
    fn a_negative_second_above_is_an_error_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        campaign(dir.path());
        let file = dir.path().join("campaigns/h1.yaml");
        let yaml = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{yaml}approval:\n  second_above: -5\n")).unwrap();
        let (ws, diags) = Workspace::load(
            &[dir.path().join("campaigns")],
            &dir.path().join("templates"),
            opts(),
        );
        assert!(ws.is_none());
        let text = diags.to_string();
        assert!(text.contains("h1.yaml:22:17"), "{text}");
        assert!(text.contains("second_above -5 is negative"), "{text}");
        assert!(text.contains("approval.second_above"), "{text}");
    }
}
