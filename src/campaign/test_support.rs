//! Test fixtures shared by the modules that load a workspace in their unit tests.

use std::path::Path;

/// Writes `campaigns/data/people.csv` (three recipients `r0`–`r2` with e-mail addresses) and
/// the template folder `note` (a subject and a text naming the row) under `dir`.
pub(crate) fn three_people_and_a_note(dir: &Path) {
    std::fs::create_dir_all(dir.join("campaigns/data")).unwrap();
    std::fs::create_dir_all(dir.join("templates/note")).unwrap();
    std::fs::write(
        dir.join("campaigns/data/people.csv"),
        "id,email\nr0,r0@example.test\nr1,r1@example.test\nr2,r2@example.test\n",
    )
    .unwrap();
    std::fs::write(dir.join("templates/note/subject.tera"), "BHYT").unwrap();
    std::fs::write(
        dir.join("templates/note/text.tera"),
        "Kính gửi {{ row.id }}",
    )
    .unwrap();
}
