//! ARCHITECTURE.md's table "What a contributor may change without touching the rest", read as
//! data: for each change, the list it joins (its registry: `LABS` in `client/src/lab/mod.rs`)
//! and every file it touches. Checked here: each registry is defined in the file named (found
//! with `syn`, not by text search), that file is among the files the change touches, and every
//! file named exists (a name with a placeholder, `labN.rs` or `NN-name/`, by its folder). A
//! row changes in ARCHITECTURE.md only; this test needs no edit.

use std::path::Path;

use super::{is_cfg_test, item_attrs, workspace};

/// The section whose table is read.
const SECTION: &str = "## What a contributor may change without touching the rest";

/// One row of the table.
#[derive(Debug)]
struct Change {
    what: String,
    /// `(item, file)`: `LABS` in `client/src/lab/mod.rs`.
    registries: Vec<(String, String)>,
    files: Vec<String>,
}

/// The `code` spans of a table cell, in order.
fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// A file's path among a cell's `code` spans (the others name items: `LABS`, `check`).
fn is_file(span: &str) -> bool {
    span.contains('/')
        || [".rs", ".md", ".sh", ".json", ".toml"]
            .iter()
            .any(|ext| span.ends_with(ext))
}

/// The rows of the section's table: `| change | registry | files |`.
fn changes(markdown: &str) -> Vec<Change> {
    let section = markdown
        .split_once(SECTION)
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no section {SECTION:?}"))
        .1;
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| change"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 3, "three cells in {line:?}");
            let registries = cells[1]
                .split(';')
                .map(|part| {
                    let spans = code_spans(part);
                    assert!(
                        spans.len() == 2 && part.contains(" in "),
                        "a registry is written \"`NAME` in `path`\": {part:?} in {line:?}"
                    );
                    (spans[0].trim_end_matches('!').to_owned(), spans[1].clone())
                })
                .collect();
            Change {
                what: cells[0].to_owned(),
                registries,
                files: code_spans(cells[2])
                    .into_iter()
                    .filter(|s| is_file(s))
                    .collect(),
            }
        })
        .collect()
}

/// The names a file defines, at any depth of its non-test items (a `macro_rules!` by its name).
fn defined_names(items: &[syn::Item], out: &mut Vec<String>) {
    for item in items.iter().filter(|i| !is_cfg_test(item_attrs(i))) {
        let name = match item {
            syn::Item::Const(i) => Some(&i.ident),
            syn::Item::Enum(i) => Some(&i.ident),
            syn::Item::Fn(i) => Some(&i.sig.ident),
            syn::Item::Macro(i) => i.ident.as_ref(),
            syn::Item::Static(i) => Some(&i.ident),
            syn::Item::Struct(i) => Some(&i.ident),
            syn::Item::Trait(i) => Some(&i.ident),
            syn::Item::Type(i) => Some(&i.ident),
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    defined_names(inner, out);
                }
                None
            }
            _ => None,
        };
        out.extend(name.map(ToString::to_string));
    }
}

/// A placeholder in a path component: `labN.rs`, `NN-name`, `<command>.rs`.
fn is_placeholder(name: &str) -> bool {
    name.contains('<') || name.contains("NN") || name.split('.').next().unwrap().ends_with('N')
}

/// Whether `file` exists; with a placeholder, whether the folder it would go in does.
fn exists(root: &Path, file: &str) -> bool {
    let parts: Vec<&str> = file.trim_end_matches('/').split('/').collect();
    match parts.iter().position(|p| is_placeholder(p)) {
        Some(i) => root.join(parts[..i].join("/")).is_dir(),
        None => root.join(file).exists(),
    }
}

/// What is wrong with one row (nothing: empty).
fn problems(change: &Change, root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in &change.files {
        if !exists(root, file) {
            out.push(format!("{}: {file} does not exist", change.what));
        }
    }
    for (item, file) in &change.registries {
        if !change.files.contains(file) {
            out.push(format!(
                "{}: the registry's file {file} is not among the files it touches",
                change.what
            ));
        }
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            out.push(format!("{}: cannot read {file}", change.what));
            continue;
        };
        let syntax = syn::parse_file(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut names = Vec::new();
        defined_names(&syntax.items, &mut names);
        if !names.contains(item) {
            out.push(format!("{}: {file} does not define {item}", change.what));
        }
    }
    out
}

#[test]
fn every_registry_lives_in_the_file_architecture_md_names() {
    let markdown = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    let changes = changes(&markdown);
    assert!(
        changes.len() >= 7,
        "the table lists every kind of change: {changes:#?}"
    );
    let found: Vec<String> = changes
        .iter()
        .flat_map(|c| problems(c, &workspace()))
        .collect();
    assert!(
        found.is_empty(),
        "ARCHITECTURE.md, \"What a contributor may change\", does not match the code (fix the \
         row, or move the list back where the row says):\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_registry_check_sees_a_misplaced_list_and_a_missing_file() {
    let markdown = format!(
        "{SECTION}\n\n| change | the list it joins | every file it touches |\n|---|---|---|\n\
         | a lab | `LABS` in `client/src/lab/mod.rs` | `client/src/lab/mod.rs` (`LABS`), `client/src/lab/labN.rs`, `labs/NN-name/README.md` |\n\
         | moved | `LABS` in `client/src/lab/command.rs` | `client/src/lab/command.rs` |\n\
         | gone | `KeyType` in `playbook/src/pki.rs` | `playbook/src/nowhere.rs`, `nolabs/NN-name/README.md` |\n\
         | a macro | `scenario_names!` in `oauth2-provider/tests/scenarios/mod.rs` | `oauth2-provider/tests/scenarios/mod.rs` |\n\n## Next"
    );
    let rows = changes(&markdown);
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[0].files,
        [
            "client/src/lab/mod.rs",
            "client/src/lab/labN.rs",
            "labs/NN-name/README.md"
        ]
    );
    let root = workspace();
    assert_eq!(problems(&rows[0], &root), Vec::<String>::new());
    assert_eq!(
        problems(&rows[1], &root),
        ["moved: client/src/lab/command.rs does not define LABS"]
    );
    assert_eq!(
        problems(&rows[2], &root),
        [
            "gone: playbook/src/nowhere.rs does not exist",
            "gone: nolabs/NN-name/README.md does not exist",
            "gone: the registry's file playbook/src/pki.rs is not among the files it touches"
        ]
    );
    assert_eq!(problems(&rows[3], &root), Vec::<String>::new());
}
