//! The house rules of the workspace, checked on every `cargo test`:
//!
//! - **No import cycles** in any crate: among the modules of one parent (the crate root's
//!   modules, a folder's files), none uses another that, directly or through its siblings,
//!   uses it back. A module may use its parent's items and its own children freely; what is
//!   refused is two siblings (or two subtrees) depending on each other, the shape that makes a
//!   newcomer read both to understand either. Test code (`#[cfg(test)]`) is not counted.
//! - **No long source file**: no file under a crate's `src/` has more than [`MAX_LINES`]
//!   lines before its `#[cfg(test)]` tests.
//!
//! Paths are read with `syn` (every `crate::`, `super::` and `self::` path, `use` trees
//! included), so a rename or a new module is checked without touching this file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The longest a source file may be, tests excluded.
const MAX_LINES: usize = 600;

/// The workspace's library crates (each binary's `main.rs` is a thin crate of its own).
const CRATES: &[&str] = &[
    "playbook",
    "client",
    "oauth2-provider",
    "resource-server",
    "supervisor",
];

type Module = Vec<String>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds playbook/")
        .to_owned()
}

/// Every `.rs` file under `src/` (except `main.rs` and `bin/`) and the module it is.
fn modules(src: &Path) -> Vec<(PathBuf, Module)> {
    fn walk(dir: &Path, prefix: &Module, out: &mut Vec<(PathBuf, Module)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "bin" {
                    let mut m = prefix.clone();
                    m.push(name);
                    walk(&path, &m, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let module = match (prefix.is_empty(), name.as_str()) {
                    (true, "main") => continue,
                    (true, "lib") | (false, "mod") => prefix.clone(),
                    _ => {
                        let mut m = prefix.clone();
                        m.push(name);
                        m
                    }
                };
                out.push((path, module));
            }
        }
    }
    let mut out = Vec::new();
    walk(src, &Vec::new(), &mut out);
    out
}

/// `#[cfg(test)]`, `#[cfg(all(test, …))]`: code that exists only in tests (`not(test)` is not).
fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let syn::Meta::List(list) = &a.meta else {
            return false;
        };
        let words: Vec<String> = list
            .tokens
            .to_string()
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .map(str::to_owned)
            .collect();
        a.path().is_ident("cfg")
            && words.iter().any(|w| w == "test")
            && !words.iter().any(|w| w == "not")
    })
}

/// The modules a file declares `#[cfg(test)] mod name;` (their files are test code).
fn test_modules(file: &syn::File, here: &Module) -> Vec<Module> {
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) if m.content.is_none() && is_cfg_test(&m.attrs) => {
                let mut module = here.clone();
                module.push(m.ident.to_string());
                Some(module)
            }
            _ => None,
        })
        .collect()
}

/// The crate's files that are not test code, with their module and parsed source.
fn library_files(src: &Path) -> Vec<(PathBuf, Module, String, syn::File)> {
    let parsed: Vec<_> = modules(src)
        .into_iter()
        .map(|(path, module)| {
            let text = std::fs::read_to_string(&path).unwrap();
            let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, module, text, file)
        })
        .collect();
    let tests: Vec<Module> = parsed
        .iter()
        .flat_map(|(_, module, _, file)| test_modules(file, module))
        .collect();
    parsed
        .into_iter()
        .filter(|(_, module, _, _)| !tests.iter().any(|t| module.starts_with(t)))
        .collect()
}

/// The module paths a file names: `crate::a::b`, `super::c`, `self::d`, in code and in `use`.
struct Paths {
    here: Module,
    found: Vec<Module>,
}

impl Paths {
    /// Resolves a path's leading `crate`/`super`/`self` segments to an absolute one.
    fn add(&mut self, segments: &[String]) {
        let mut base = match segments.first().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("super") | Some("self") => self.here.clone(),
            _ => return,
        };
        let mut rest = segments;
        if rest[0] == "crate" {
            rest = &rest[1..];
        }
        while let Some(first) = rest.first() {
            match first.as_str() {
                "super" => {
                    base.pop();
                }
                "self" => {}
                _ => break,
            }
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        self.found.push(base);
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.add(&full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.add(&full);
            }
            syn::UseTree::Glob(_) => self.add(prefix),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::ExternCrate(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::ForeignMod(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Macro(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::TraitAlias(i) => &i.attrs,
            syn::Item::Type(i) => &i.attrs,
            syn::Item::Union(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            _ => &[],
        };
        if !is_cfg_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs: &[syn::Attribute] = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => &[],
        };
        if !is_cfg_test(attrs) {
            syn::visit::visit_impl_item(self, item);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.add(&segments);
        syn::visit::visit_path(self, path);
    }
}

/// The longest prefix of `path` that is a module of the crate.
fn module_of(path: &[String], known: &BTreeSet<Module>) -> Module {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| known.contains(m))
        .unwrap_or_default()
}

/// The groups of children that depend on each other (strongly connected, more than one),
/// each with the edges inside it: `a -> b, b -> a`.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(n) = todo.pop() {
            for next in edges.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        edges.keys().map(|n| (n, reach(n))).collect();
    let mut grouped = BTreeSet::new();
    let mut out = Vec::new();
    for (node, reached) in &reaches {
        if grouped.contains(*node) || !reached.contains(*node) {
            continue;
        }
        let group: BTreeSet<&String> = reached
            .iter()
            .filter(|m| reaches.get(m).is_some_and(|r| r.contains(*node)))
            .collect();
        let inside: Vec<String> = group
            .iter()
            .flat_map(|from| {
                edges[*from]
                    .iter()
                    .filter(|to| group.contains(to))
                    .map(move |to| format!("{from} -> {to}"))
            })
            .collect();
        grouped.extend(group.iter().map(|m| (*m).clone()));
        out.push(inside.join(", "));
    }
    out
}

/// For each module, the edges among its children: child `a` → child `b` when something in
/// `a`'s subtree names something in `b`'s.
fn sibling_edges(crate_dir: &Path) -> BTreeMap<Module, BTreeMap<String, BTreeSet<String>>> {
    let files = library_files(&crate_dir.join("src"));
    let known: BTreeSet<Module> = files.iter().map(|(_, m, _, _)| m.clone()).collect();
    let mut levels: BTreeMap<Module, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (_, here, _, file) in &files {
        let mut paths = Paths {
            here: here.clone(),
            found: Vec::new(),
        };
        paths.visit_file(file);
        for target in paths.found {
            let to = module_of(&target, &known);
            let common = here.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == here.len() || common == to.len() {
                continue; // an ancestor or a descendant (or itself)
            }
            levels
                .entry(here[..common].to_vec())
                .or_default()
                .entry(here[common].clone())
                .or_default()
                .insert(to[common].clone());
        }
    }
    levels
}

#[test]
fn no_crate_has_an_import_cycle() {
    let mut found = Vec::new();
    for name in CRATES {
        for (parent, edges) in sibling_edges(&workspace().join(name)) {
            for cycle in cycles(&edges) {
                let at = if parent.is_empty() {
                    "the crate root".to_owned()
                } else {
                    parent.join("::")
                };
                found.push(format!("{name}, in {at}: {cycle}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "import cycles (modules that use each other, directly or through their siblings; move \
         what both need into one of them, or into a module both use):\n  {}",
        found.join("\n  ")
    );
}

/// Lines of a file before its tests: a `#[cfg(test)]` line followed by `mod …`.
fn lines_before_tests(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    (0..lines.len())
        .find(|&i| {
            lines[i].trim() == "#[cfg(test)]"
                && lines
                    .get(i + 1)
                    .is_some_and(|l| l.trim_start().starts_with("mod "))
        })
        .unwrap_or(lines.len())
}

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let mut long = Vec::new();
    for name in CRATES {
        let root = workspace().join(name);
        for (path, _, text, _) in library_files(&root.join("src")) {
            let n = lines_before_tests(&text);
            if n > MAX_LINES {
                let shown = path
                    .strip_prefix(workspace())
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                long.push(format!("{shown}: {n} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "source files over {MAX_LINES} lines (tests excluded); split them along the seams \
         they name:\n  {}",
        long.join("\n  ")
    );
}

#[test]
fn the_checks_see_a_cycle_and_the_crates() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        (
            "token".to_owned(),
            BTreeSet::from(["client_auth".to_owned()]),
        ),
        (
            "client_auth".to_owned(),
            BTreeSet::from(["store".to_owned()]),
        ),
        (
            "store".to_owned(),
            BTreeSet::from(["client_auth".to_owned()]),
        ),
        ("keys".to_owned(), BTreeSet::from(["store".to_owned()])),
    ]
    .into();
    assert_eq!(
        cycles(&edges),
        ["client_auth -> store, store -> client_auth"]
    );
    let file = syn::parse_file(
        "use crate::{a::{self, X}, b::*}; use super::c; fn f() { crate::d::e(); }
         #[cfg(test)] mod tests { use crate::z; }
         #[cfg(all(test, unix))] fn t() { crate::zz::f(); }
         impl S { #[cfg(test)] fn u() { crate::zzz::g(); } }
         #[cfg(not(test))] fn live() { crate::y::h(); }
         #[cfg(test)] mod fixtures;",
    )
    .unwrap();
    let mut paths = Paths {
        here: vec!["m".into(), "n".into()],
        found: Vec::new(),
    };
    paths.visit_file(&file);
    let found: BTreeSet<String> = paths.found.iter().map(|p| p.join("::")).collect();
    for expected in ["a", "a::X", "b", "m::c", "d::e"] {
        assert!(found.contains(expected), "{expected} in {found:?}");
    }
    assert!(
        !found.iter().any(|p| p.starts_with('z')),
        "tests are not counted: {found:?}"
    );
    // The real crates are read: every one has modules, and the workspace lists them all.
    let manifest = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    for name in CRATES {
        assert!(
            modules(&workspace().join(name).join("src")).len() > 1,
            "{name}"
        );
        assert!(manifest.contains(&format!("\"{name}\"")), "{name}");
    }
}
