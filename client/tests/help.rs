//! `--help`, run as the real binary: the walkthrough's step list is the one in
//! `client::walkthrough::STEPS`, and `--json` says it holds tokens whole.

use std::process::Command;

/// `client ARGS --help`, its whitespace collapsed (clap wraps long lines).
fn help(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(args)
        .arg("--help")
        .env("NO_COLOR", "1")
        .output()
        .expect("run the client binary");
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn walkthrough_help_lists_every_step_from_the_one_list() {
    let text = help(&["walkthrough"]);
    let mut at = 0;
    for step in client::walkthrough::STEPS {
        let line = format!("{} {} → {}", step.number, step.name, step.expected);
        let found = text[at..]
            .find(&line)
            .unwrap_or_else(|| panic!("{line:?} not (in order) in: {text}"));
        at += found + line.len();
    }
}

#[test]
fn json_help_says_tokens_are_whole() {
    let text = help(&["token"]);
    assert!(
        text.contains("--json Print one JSON document for scripts instead of the narration. It holds tokens whole"),
        "{text}"
    );
    assert!(
        text.contains("client token --json | jq -r .access_token"),
        "{text}"
    );
}
