//! What the benchmarks read, made once per process: the example campaign with two extra
//! steps and a generated students file of [`STUDENTS`] rows, in a folder under `target/`.
//!
//! The students file is the shape of `campaigns/data/students.csv` (a UTF-8 BOM, Vietnamese
//! names with diacritics, phones spelt every way school spreadsheets spell them), from a
//! fixed-seed generator: the same bytes on every run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use loa::campaign::{Campaign, DataScan, EnvPolicy, LoadOptions, Workspace};
use unicode_normalization::UnicodeNormalization;

/// Rows of the generated students file.
pub(crate) const STUDENTS: usize = 10_000;

/// Steps appended to the example campaign for the schedule benchmarks: a daily reminder set
/// inside quiet hours (every time moves to 07:00 the next day, some onto skip dates) and an
/// hourly one (the night's hours all move to 07:00 and collapse into one), each over the
/// whole period, 2026-08-01 to 2026-12-31.
const BENCH_STEPS: &str = r#"
  - id: bench-nightly
    audience: parents
    where: "not row.insured"
    channel: zalo
    template: deadline_parents
    send: { cron: "30 21 * * *" }
  - id: bench-hourly
    audience: parents
    channel: zalo
    template: deadline_parents
    send: { cron: "0 * * * *" }
"#;

pub(crate) struct Fixture {
    pub(crate) workspace: Workspace,
    /// The generated students file (NFC, as most spreadsheets save it).
    pub(crate) students: PathBuf,
    /// The same rows with every text decomposed (NFD), as some Mac exports save them.
    pub(crate) students_nfd: PathBuf,
}

impl Fixture {
    pub(crate) fn campaign(&self) -> &Campaign {
        &self.workspace.campaigns[0]
    }
}

pub(crate) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(make)
}

/// The repository root, for the shipped campaign, data and templates.
pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn make() -> Fixture {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("loa-bench");
    let example = repo().join("campaigns");
    let yaml = std::fs::read_to_string(example.join("bhyt-hssv-2026-2027.yaml"))
        .expect("the example campaign");
    let file = dir.join("campaign.yaml");
    write(&file, format!("{yaml}{BENCH_STEPS}").as_bytes());
    for name in ["schools.csv", "staff.csv"] {
        let bytes = std::fs::read(example.join("data").join(name)).expect("the sample data");
        write(&dir.join("data").join(name), &bytes);
    }
    let csv = students_csv(STUDENTS);
    let students = dir.join("data/students.csv");
    write(&students, csv.as_bytes());
    let students_nfd = dir.join("students_nfd.csv");
    write(&students_nfd, csv.nfd().collect::<String>().as_bytes());

    let opts = LoadOptions {
        env: EnvPolicy::Optional,
        data: DataScan::Headers,
    };
    let (workspace, diags) =
        Workspace::load_with_env(&[file], &repo().join("templates"), opts, &|_| None);
    let Some(workspace) = workspace else {
        panic!("the benchmark campaign does not load: {diags:?}");
    };
    Fixture {
        workspace,
        students,
        students_nfd,
    }
}

/// Writes through a file of this process's own and a rename: two benchmark processes (a
/// `cargo bench` and a `cargo test --benches`) may make the fixture at the same time.
fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("the fixture folder");
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).expect("a fixture file");
    std::fs::rename(&tmp, path).expect("a fixture file");
}

const FAMILY: [&str; 12] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
];
const MIDDLE: [&str; 10] = [
    "Văn", "Thị", "Minh", "Gia", "Bảo", "Đức", "Thu", "Ngọc", "Quốc", "Hoài",
];
const GIVEN: [&str; 18] = [
    "An", "Bình", "Châu", "Dũng", "Hà", "Khoa", "Linh", "Nam", "Thảo", "Vy", "Phúc", "Trâm", "Yến",
    "Tú", "Khôi", "Ngân", "Hưng", "Uyên",
];
/// The school ids of `campaigns/data/schools.csv`.
const SCHOOLS: [&str; 8] = [
    "TH-001", "TH-002", "TH-003", "CS-001", "CS-002", "PT-001", "PT-002", "DH-001",
];
const MOBILE_PREFIXES: [&str; 8] = ["912", "903", "986", "377", "824", "707", "339", "868"];

/// A 64-bit linear congruential generator (Knuth's MMIX constants): enough for test data.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn name(&mut self) -> String {
        format!(
            "{} {} {}",
            self.pick(&FAMILY),
            self.pick(&MIDDLE),
            self.pick(&GIVEN)
        )
    }

    /// A mobile number in one of the spellings found in school files.
    fn phone(&mut self) -> String {
        let (p, a, b) = (
            self.pick(&MOBILE_PREFIXES),
            self.next() % 1000,
            self.next() % 1000,
        );
        match self.below(5) {
            0 => format!("0{p} {a:03} {b:03}"),
            1 => format!("0{p}.{a:03}.{b:03}"),
            2 => format!("+84 {p} {a:03} {b:03}"),
            3 => format!("84{p}{a:03}{b:03}"),
            _ => format!("0{p}{a:03}{b:03}"),
        }
    }
}

/// `n` students in the columns of `campaigns/data/students.csv`, behind a UTF-8 BOM.
pub(crate) fn students_csv(n: usize) -> String {
    let mut rng = Lcg(2026);
    let mut out = String::with_capacity(n * 130);
    out.push_str(
        "\u{feff}student_id,full_name,grade,school_id,dob,parent_name,phone,email,insured,card_expiry\n",
    );
    for i in 1..=n {
        let grade = 1 + rng.below(12);
        let insured = rng.below(100) < 93;
        let (day, month) = (1 + rng.below(28), 1 + rng.below(12));
        let (name, parent, school, phone) =
            (rng.name(), rng.name(), rng.pick(&SCHOOLS), rng.phone());
        let _ = writeln!(
            out,
            "HS{i:05},{name},{grade},{school},{day:02}/{month:02}/{},{parent},{phone},ph.hs{i:05}@example.com,{},{}",
            2020 - grade,
            if insured { "có" } else { "không" },
            if insured { "31/12/2026" } else { "" },
        );
    }
    out
}
