//! What one run of the walkthrough is asked to do ([`Options`]) and what it found
//! ([`Report`]: each step's expected and actual outcome, what it changed in the provider),
//! so a test can run the flow in-process and assert every outcome.

use std::time::Duration;

/// Choices for one run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Leave the role assigned at the end (to keep playing with `client call`).
    pub keep_role: bool,
    /// Skip step 3b even if `rogue-client.pem` exists.
    pub skip_rogue: bool,
    /// Record every connection and request here (`client walkthrough --html`): the run
    /// sends through instrumented clients, and [`Report::marks`] say when each step began.
    pub trace: Option<playbook::https::Recorder>,
}

/// The mark of the part before step 2: discovery, the admin API finding the role.
pub const BEFORE_WE_START: &str = "before";
/// The mark of the part after step 8: the role mapping put back as it was.
pub const RESTORE: &str = "restore";

/// When a part of a traced run began, on its recorder's clock: a step's number, or
/// [`BEFORE_WE_START`], [`RESTORE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub part: String,
    pub at: Duration,
}

/// One step's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    /// `"1"` … `"8"`, `"3b"`.
    pub number: String,
    pub name: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
}

/// The whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub steps: Vec<StepReport>,
    /// What the run changed in the provider (and left changed), in words.
    pub changes: Vec<String>,
    /// Steps not run on purpose, with the reason (`"3b: rogue-client.pem not found …"`).
    pub skipped: Vec<String>,
    /// In a traced run, when each part began (in order); empty otherwise.
    #[serde(skip)]
    pub marks: Vec<Mark>,
}

impl Report {
    pub fn all_passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.passed)
    }

    pub fn step(&self, number: &str) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.number == number)
    }
}
