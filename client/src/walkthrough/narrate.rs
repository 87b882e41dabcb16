//! The narration: each step's heading and expected outcome from [`STEPS`], its actual
//! outcome (`✔ as expected` / `✘ NOT as expected`), steps not run or skipped, and the
//! summary at the end. The steps themselves only say what happened.

use std::time::Instant;

use playbook::x509::CertInfo;

use playbook::https::Recorder;

use super::report::{Mark, Report, StepReport};
use super::steps::{STEPS, StepDef, def};
use crate::output::{Output, pretty};
use crate::token::DecodedJwt;

/// Records steps and narrates them.
pub(super) struct Steps<'a> {
    pub(super) out: &'a Output,
    pub(super) steps: Vec<StepReport>,
    /// Steps not run on purpose, with the reason (`3b: …`).
    pub(super) skipped: Vec<String>,
    /// A traced run's clock, and when each part began on it.
    clock: Option<Recorder>,
    marks: Vec<Mark>,
}

impl<'a> Steps<'a> {
    pub(super) fn new(out: &'a Output, clock: Option<Recorder>) -> Self {
        Steps {
            out,
            steps: Vec::new(),
            skipped: Vec::new(),
            clock,
            marks: Vec::new(),
        }
    }

    /// In a traced run, notes that `part` begins now.
    pub(super) fn mark(&mut self, part: &str) {
        if let Some(clock) = &self.clock {
            self.marks.push(Mark {
                part: part.to_owned(),
                at: clock.elapsed(),
            });
        }
    }

    pub(super) fn begin(&mut self, number: &str) -> &'static StepDef {
        self.mark(number);
        let d = def(number);
        self.out.step(d.number, d.name);
        self.out.note(&format!("expected: {}", d.expected));
        d
    }

    pub(super) fn finish(&mut self, d: &StepDef, actual: String, passed: bool) {
        if passed {
            self.out.ok(&format!("as expected: {actual}"));
        } else {
            self.out.fail(&format!(
                "NOT as expected: {actual} (expected {})",
                d.expected
            ));
        }
        self.push(d, actual, passed);
    }

    fn push(&mut self, d: &StepDef, actual: String, passed: bool) {
        self.steps.push(StepReport {
            number: d.number.to_owned(),
            name: d.name.to_owned(),
            expected: d.expected.to_owned(),
            actual,
            passed,
        });
    }

    /// Records every step after `after` as not run (they need what `after` did not give).
    pub(super) fn not_run_after(&mut self, after: &str, why: &str) {
        let from = STEPS
            .iter()
            .position(|d| d.number == after)
            .map_or(STEPS.len(), |i| i + 1);
        for d in &STEPS[from..] {
            self.out.step(d.number, d.name);
            self.out.fail(&format!("not run: {why}"));
            self.push(d, format!("not run: {why}"), false);
        }
    }

    pub(super) fn skip(&mut self, number: &str, why: &str) {
        let d = def(number);
        self.out.step(d.number, d.name);
        self.out.warn(&format!("skipped: {why}"));
        self.skipped.push(format!("{}: {why}", d.number));
    }

    /// The report, and the summary printed from it: every step's outcome, the skipped
    /// ones, the count, and what the run left changed in the provider.
    pub(super) fn summary(self, changes: Vec<String>, started: Instant) -> Report {
        let out = self.out;
        let report = Report {
            steps: self.steps,
            changes,
            skipped: self.skipped,
            marks: self.marks,
        };
        out.heading("Summary");
        for step in &report.steps {
            let line = format!("{:>2}. {}: {}", step.number, step.name, step.actual);
            if step.passed {
                out.ok(&line);
            } else {
                out.fail(&line);
            }
        }
        for skipped in &report.skipped {
            out.warn(&format!("skipped {skipped}"));
        }
        let passed = report.steps.iter().filter(|s| s.passed).count();
        let numbers: Vec<&str> = report.steps.iter().map(|s| s.number.as_str()).collect();
        out.plain("");
        out.plain(&format!(
            "{passed} of {} steps behaved as expected (steps {}{}; {:.1}s).",
            report.steps.len(),
            numbers.join(", "),
            if report.skipped.is_empty() {
                String::new()
            } else {
                format!("; {} skipped", report.skipped.len())
            },
            started.elapsed().as_secs_f32()
        ));
        for change in &report.changes {
            out.plain(&format!("Provider state: {change}."));
        }
        report
    }
}

/// A certificate's subject, issuer and RFC 8705 thumbprint, under `label`.
pub(super) fn cert_line(out: &Output, label: &str, info: &CertInfo) {
    out.note(&format!(
        "{label}\n  subject:  {}\n  issuer:   {}\n  x5t#S256: {}",
        info.subject, info.issuer, info.x5t_s256
    ));
}

/// The token's header and claims, pretty-printed.
pub(super) fn show_jwt(out: &Output, jwt: &DecodedJwt) {
    out.note("decoded (not verified here: the resource server checks the signature via JWKS):");
    out.note(&format!("header: {}", pretty(&jwt.header)));
    out.note(&format!("claims: {}", pretty(&jwt.claims)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_run_covers_every_later_step_by_its_one_name() {
        let out = Output::quiet();
        let mut steps = Steps::new(&out, None);
        steps.not_run_after("4", "no token");
        let names: Vec<(&str, &str)> = steps
            .steps
            .iter()
            .map(|s| (s.number.as_str(), s.name.as_str()))
            .collect();
        let expected: Vec<(&str, &str)> = STEPS[5..].iter().map(|d| (d.number, d.name)).collect();
        assert_eq!(names, expected);
        assert_eq!(STEPS[5].number, "5");
    }
}
