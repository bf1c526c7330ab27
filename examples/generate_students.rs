//! Generates a large synthetic audience to measure `loa plan` and enqueue at scale.
//!
//! ```text
//! cargo run --release --example generate_students -- 2000000 /tmp/loa-big
//! /usr/bin/time -v target/release/loa plan /tmp/loa-big/campaigns/bhyt-hssv-2026-2027.yaml --format json > /dev/null
//! ```
//!
//! Writes `<dir>/campaigns/` as a copy of the example campaign whose `students.csv` has N
//! rows (clearly synthetic names, numbers and addresses), spread over the example schools.
//! The output is the same for the same N: a fixed-seed generator, no randomness source.

use std::error::Error;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

const FAMILY: [&str; 8] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng",
];
const GIVEN: [&str; 10] = [
    "An", "Bình", "Châu", "Dũng", "Hà", "Khoa", "Linh", "Nam", "Thảo", "Vy",
];
const SCHOOLS: [&str; 8] = [
    "TH-001", "TH-002", "TH-003", "CS-001", "CS-002", "PT-001", "PT-002", "DH-001",
];
const PREFIXES: [&str; 6] = ["912", "903", "986", "377", "824", "707"];

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

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .ok_or("usage: generate_students N DIR")?
        .parse()?;
    let dir = args.next().ok_or("usage: generate_students N DIR")?;
    let out = Path::new(&dir).join("campaigns");
    fs::create_dir_all(out.join("data"))?;
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns");
    fs::copy(
        example.join("bhyt-hssv-2026-2027.yaml"),
        out.join("bhyt-hssv-2026-2027.yaml"),
    )?;
    for f in ["schools.csv", "staff.csv"] {
        fs::copy(example.join("data").join(f), out.join("data").join(f))?;
    }
    let mut w = BufWriter::new(fs::File::create(out.join("data/students.csv"))?);
    writeln!(
        w,
        "student_id,full_name,grade,school_id,dob,parent_name,phone,email,insured,card_expiry"
    )?;
    let mut rng = Lcg(2026);
    for i in 1..=n {
        let grade = 1 + rng.next() % 12;
        let insured = rng.next() % 100 < 93;
        writeln!(
            w,
            "HS{i:08},{} Văn {},{grade},{},{:02}/{:02}/{},{} Thị {},0{}{:06},ph.hs{i:08}@example.com,{},{}",
            rng.pick(&FAMILY),
            rng.pick(&GIVEN),
            rng.pick(&SCHOOLS),
            1 + rng.next() % 28,
            1 + rng.next() % 12,
            2020 - grade,
            rng.pick(&FAMILY),
            rng.pick(&GIVEN),
            rng.pick(&PREFIXES),
            rng.next() % 1_000_000,
            if insured { "có" } else { "không" },
            if insured { "31/12/2026" } else { "" },
        )?;
    }
    w.flush()?;
    eprintln!(
        "wrote {n} students to {}",
        out.join("data/students.csv").display()
    );
    Ok(())
}
