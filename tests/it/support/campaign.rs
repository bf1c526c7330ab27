//! A generated campaign workspace for the daemon tests: one audience of `n` people
//! (`r<i>` with `r<i>@example.test` and a phone number), the channels a test names, and
//! steps whose single `at:` falls a minute ago in Asia/Ho_Chi_Minh — due as soon as the
//! daemon starts, well inside the default grace of 60 minutes (or longer ago, to miss it).

use std::fmt::Write as _;

use chrono::{Duration as Days, Timelike, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;

use super::workspace::Workspace;

pub const CAMPAIGN: &str = "rel";

/// One person of the audience; `email` may be changed (e.g. to a `perm550-` address).
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub email: String,
    pub phone: String,
}

/// The address of the `i`-th generated person.
pub fn email(i: usize) -> String {
    format!("r{i}@example.test")
}

pub struct CampaignBuilder {
    people: Vec<Person>,
    channels: Vec<String>,
    steps: Vec<String>,
    timezone: String,
}

impl CampaignBuilder {
    /// `n` people `r0 … r{n-1}`.
    pub fn new(n: usize) -> Self {
        let people = (0..n)
            .map(|i| Person {
                id: format!("r{i}"),
                email: email(i),
                phone: format!("09{:08}", i),
            })
            .collect();
        Self {
            people,
            channels: Vec::new(),
            steps: Vec::new(),
            timezone: "Asia/Ho_Chi_Minh".into(),
        }
    }

    pub fn people_mut(&mut self) -> &mut [Person] {
        &mut self.people
    }

    /// An SMTP channel; `extra` lines (e.g. `rate: 50/s`) go under it as they are.
    pub fn smtp(mut self, name: &str, url: &str, extra: &[&str]) -> Self {
        let mut yaml = format!(
            "  {name}:\n    type: smtp\n    url: \"{url}\"\n    from: \"Loa test <loa@example.test>\"\n"
        );
        for line in extra {
            let _ = writeln!(yaml, "    {line}");
        }
        self.channels.push(yaml);
        self
    }

    /// A webhook channel to `url` (JSON body, addressed by phone).
    pub fn webhook(mut self, name: &str, url: &str, extra: &[&str]) -> Self {
        let mut yaml = format!("  {name}:\n    type: webhook\n    url: \"{url}\"\n");
        for line in extra {
            let _ = writeln!(yaml, "    {line}");
        }
        self.channels.push(yaml);
        self
    }

    /// A step sending to the whole audience on `channels`, due a minute ago.
    pub fn step(self, id: &str, channels: &[&str]) -> Self {
        self.step_due(id, channels, 1)
    }

    /// A step sending to the whole audience on `channels`, due `minutes` ago.
    pub fn step_due(mut self, id: &str, channels: &[&str], minutes: i64) -> Self {
        let t = (Utc::now() - Days::minutes(minutes)).with_timezone(&Ho_Chi_Minh);
        let at = format!("{} {:02}:{:02}", t.date_naive(), t.hour(), t.minute());
        self.steps.push(format!(
            "  - id: {id}\n    audience: people\n    channel: [{}]\n    template: note\n    \
             send: {{ at: \"{at}\" }}\n",
            channels.join(", ")
        ));
        self
    }

    /// Replaces the campaign's time zone (default Asia/Ho_Chi_Minh) as written.
    pub fn timezone(mut self, tz: &str) -> Self {
        self.timezone = tz.to_string();
        self
    }

    /// Writes `campaigns/`, `templates/` and the audience under a new temporary folder.
    pub fn build(self) -> Workspace {
        let ws = Workspace::empty();
        let root = ws.root();
        for sub in ["campaigns/data", "templates/note"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        let mut csv = String::from("id,n,email,phone\n");
        for (i, p) in self.people.iter().enumerate() {
            let _ = writeln!(csv, "{},{i},{},{}", p.id, p.email, p.phone);
        }
        std::fs::write(root.join("campaigns/data/people.csv"), csv).expect("write csv");
        let today = Utc::now().with_timezone(&Ho_Chi_Minh).date_naive();
        let yaml = format!(
            "campaign: {CAMPAIGN}\ntitle: \"Reliability test\"\nstatus: active\n\
             timezone: {}\nperiod: {{ start: {}, end: {} }}\n\
             audiences:\n  people:\n    source: data/people.csv\n    key: id\n    \
             columns: {{ n: integer, phone: phone }}\n\
             channels:\n{}steps:\n{}",
            self.timezone,
            today - Days::days(1),
            today + Days::days(2),
            self.channels.concat(),
            self.steps.concat(),
        );
        std::fs::write(root.join("campaigns/rel.yaml"), yaml).expect("write campaign");
        std::fs::write(
            root.join("templates/note/subject.tera"),
            "Thông báo BHYT cho {{ row.id }}",
        )
        .expect("write template");
        std::fs::write(
            root.join("templates/note/text.tera"),
            "Kính gửi {{ row.id }}: hãy tham gia bảo hiểm y tế học sinh, sinh viên.",
        )
        .expect("write template");
        ws
    }
}
