//! The house rules of the workspace, checked on every `cargo test`:
//!
//! - **No import cycles** in any crate: among the modules of one parent (the crate root's
//!   modules, a folder's files), none uses another that, directly or through its siblings,
//!   uses it back. A module may use its own children freely, and a folder's files may use
//!   their `mod.rs` (the folder's shared types); what is refused is two siblings (or two
//!   subtrees) depending on each other, the shape that makes a newcomer read both to
//!   understand either. The crate root is no exception: its own items (what `lib.rs` defines
//!   rather than re-exports) are one more node among its modules, so a module that uses
//!   something `lib.rs` defines while `lib.rs` uses that module is a cycle "through the crate
//!   root". Test code (`#[cfg(test)]`) is not counted.
//! - **Paths are resolved**: `crate::Provider`, where `lib.rs` says `pub use
//!   provider::Provider`, is an edge to `provider`, not to the root; likewise through any
//!   module's `use` (private imports are visible to a module's descendants too).
//! - **The crate roots are router and run**: `lib.rs` of the provider and of the resource
//!   server define no shared state type (`Provider`, `AppState` live in modules of their own).
//! - **No long source file**: no file under a crate's `src/` has more than [`MAX_LINES`]
//!   lines of non-test code, counted with the parser's spans (every `#[cfg(test)]` item's
//!   lines are left out, wherever it sits in the file).
//! - **The registries live where ARCHITECTURE.md says** (`workspace_layout/contributor.rs`).
//!
//! Paths are read with `syn` (every `crate::`, `super::`, `self::` and child-relative path,
//! `use` trees included), so a rename or a new module is checked without touching this file.

#[path = "workspace_layout/contributor.rs"]
mod contributor;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::spanned::Spanned as _;
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

/// How the crate root's own items are named in the root's graph.
const ROOT: &str = "lib.rs";

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

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
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
    }
}

fn impl_item_attrs(item: &syn::ImplItem) -> &[syn::Attribute] {
    match item {
        syn::ImplItem::Const(i) => &i.attrs,
        syn::ImplItem::Fn(i) => &i.attrs,
        syn::ImplItem::Type(i) => &i.attrs,
        syn::ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
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

/// One library file of a crate: where it is, the module it is, its source and its syntax.
struct SourceFile {
    path: PathBuf,
    module: Module,
    text: String,
    syntax: syn::File,
}

/// The crate's files that are not test code.
fn library_files(src: &Path) -> Vec<SourceFile> {
    let parsed: Vec<SourceFile> = modules(src)
        .into_iter()
        .map(|(path, module)| {
            let text = std::fs::read_to_string(&path).unwrap();
            let syntax =
                syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            SourceFile {
                path,
                module,
                text,
                syntax,
            }
        })
        .collect();
    let tests: Vec<Module> = parsed
        .iter()
        .flat_map(|f| test_modules(&f.syntax, &f.module))
        .collect();
    parsed
        .into_iter()
        .filter(|f| !tests.iter().any(|t| f.module.starts_with(t)))
        .collect()
}

/// The paths a file names, made absolute: `crate::a::b`, `super::c`, `self::d`, and `e::f`
/// where `e` is a child module of the file's own, in code and in `use`; and what each of its
/// `use` declarations brings into scope (`name` → the absolute path it stands for).
struct Paths<'k> {
    here: Module,
    known: &'k BTreeSet<Module>,
    found: Vec<Module>,
    imports: BTreeMap<String, Module>,
}

impl<'k> Paths<'k> {
    fn new(here: Module, known: &'k BTreeSet<Module>) -> Self {
        Paths {
            here,
            known,
            found: Vec::new(),
            imports: BTreeMap::new(),
        }
    }

    /// Resolves a path's leading `crate`/`super`/`self` segments (or a child module's name)
    /// to an absolute one; `None` for another crate's path or a local name.
    fn absolute(&self, segments: &[String]) -> Option<Module> {
        let first = segments.first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "super" | "self" => self.here.clone(),
            child => {
                let mut m = self.here.clone();
                m.push(child.to_owned());
                if !self.known.contains(&m) {
                    return None;
                }
                self.here.clone()
            }
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
        Some(base)
    }

    fn add(&mut self, segments: &[String]) {
        if let Some(path) = self.absolute(segments) {
            self.found.push(path);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        let import = |this: &mut Self, full: Vec<String>, name: String| {
            if let Some(path) = this.absolute(&full) {
                this.imports.insert(name, path.clone());
                this.found.push(path);
            }
        };
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                let name = if n.ident == "self" {
                    prefix.last().cloned().unwrap_or_default()
                } else {
                    full.push(n.ident.to_string());
                    n.ident.to_string()
                };
                import(self, full, name);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                import(self, full, r.rename.to_string());
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

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_cfg_test(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        if !is_cfg_test(impl_item_attrs(item)) {
            syn::visit::visit_impl_item(self, item);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    /// `pub(crate)`, `pub(super)`, `pub(in path)`: who may see an item, not a use of anything.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

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

/// A crate's modules and what each one's `use` declarations bring into scope.
struct Crate {
    known: BTreeSet<Module>,
    imports: BTreeMap<Module, BTreeMap<String, Module>>,
}

/// Where a path leads: the module that defines what it names, and whether it names an item
/// of that module (rather than the module itself).
#[derive(Debug, PartialEq)]
struct Target {
    module: Module,
    names_an_item: bool,
}

impl Crate {
    /// Follows `use` declarations (re-exports and private imports alike) until the path
    /// lands on the module that defines its item: `crate::Provider` with `pub use
    /// provider::Provider` in `lib.rs` leads to `provider`.
    fn resolve(&self, path: &[String]) -> Target {
        let mut path = path.to_vec();
        for _ in 0..16 {
            let module = module_of(&path, &self.known);
            let next = path.get(module.len());
            let imported = next.and_then(|name| self.imports.get(&module)?.get(name));
            match imported {
                Some(to) if !to.starts_with(&path[..=module.len()]) => {
                    let mut rest = to.clone();
                    rest.extend(path[module.len() + 1..].iter().cloned());
                    path = rest;
                }
                _ => {
                    return Target {
                        names_an_item: next.is_some() || path.is_empty(),
                        module,
                    };
                }
            }
        }
        panic!("a use cycle at {}", path.join("::"))
    }
}

/// For each module, the edges among its children: child `a` → child `b` when something in
/// `a`'s subtree names something in `b`'s. At the crate root, [`ROOT`] is one more node: the
/// root's own items, used by a child or using one.
fn sibling_edges(files: &[SourceFile]) -> BTreeMap<Module, BTreeMap<String, BTreeSet<String>>> {
    let known: BTreeSet<Module> = files.iter().map(|f| f.module.clone()).collect();
    let mut found = Vec::new();
    let mut krate = Crate {
        known: known.clone(),
        imports: BTreeMap::new(),
    };
    for file in files {
        let mut paths = Paths::new(file.module.clone(), &known);
        paths.visit_file(&file.syntax);
        krate.imports.insert(file.module.clone(), paths.imports);
        found.push((file.module.clone(), paths.found));
    }
    let mut levels: BTreeMap<Module, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let mut edge = |level: Module, from: String, to: String| {
        levels
            .entry(level)
            .or_default()
            .entry(from)
            .or_default()
            .insert(to);
    };
    for (here, targets) in found {
        for target in targets {
            let to = krate.resolve(&target);
            let common = here
                .iter()
                .zip(&to.module)
                .take_while(|(a, b)| a == b)
                .count();
            if common < here.len() && common < to.module.len() {
                edge(
                    here[..common].to_vec(),
                    here[common].clone(),
                    to.module[common].clone(),
                );
            } else if to.module.is_empty() && !here.is_empty() && to.names_an_item {
                edge(Vec::new(), here[0].clone(), ROOT.to_owned());
            } else if here.is_empty() && !to.module.is_empty() {
                edge(Vec::new(), ROOT.to_owned(), to.module[0].clone());
            }
            // Otherwise within one subtree: a module and its descendants, or a folder's
            // files and their `mod.rs`.
        }
    }
    levels
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

fn crate_files(name: &str) -> Vec<SourceFile> {
    library_files(&workspace().join(name).join("src"))
}

#[test]
fn no_crate_has_an_import_cycle() {
    let mut found = Vec::new();
    for name in CRATES {
        for (parent, edges) in sibling_edges(&crate_files(name)) {
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
        "import cycles (modules that use each other, directly or through their siblings or \
         the crate root's own items; move what both need into one of them, or into a module \
         both use):\n  {}",
        found.join("\n  ")
    );
}

/// The lines of `text` that are not test code: every line, less those of the `#[cfg(test)]`
/// items (with their attributes and doc comments), at any depth, wherever they sit.
fn non_test_lines(text: &str, file: &syn::File) -> usize {
    struct TestLines(BTreeSet<usize>);
    impl TestLines {
        fn add(&mut self, span: proc_macro2::Span) {
            self.0.extend(span.start().line..=span.end().line);
        }
    }
    impl<'ast> Visit<'ast> for TestLines {
        fn visit_item(&mut self, item: &'ast syn::Item) {
            if is_cfg_test(item_attrs(item)) {
                self.add(item.span());
            } else {
                syn::visit::visit_item(self, item);
            }
        }
        fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
            if is_cfg_test(impl_item_attrs(item)) {
                self.add(item.span());
            } else {
                syn::visit::visit_impl_item(self, item);
            }
        }
    }
    let mut tests = TestLines(BTreeSet::new());
    tests.visit_file(file);
    text.lines().count() - tests.0.len()
}

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let mut long = Vec::new();
    for name in CRATES {
        for file in crate_files(name) {
            let n = non_test_lines(&file.text, &file.syntax);
            if n > MAX_LINES {
                let shown = file.path.strip_prefix(workspace()).unwrap_or(&file.path);
                long.push(format!("{}: {n} lines", shown.display()));
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

/// The types a `lib.rs` defines (structs, enums, unions, traits, type aliases).
fn root_types(name: &str) -> Vec<String> {
    let file = crate_files(name)
        .into_iter()
        .find(|f| f.module.is_empty())
        .expect("a lib.rs");
    file.syntax
        .items
        .iter()
        .filter(|item| !is_cfg_test(item_attrs(item)))
        .filter_map(|item| match item {
            syn::Item::Struct(i) => Some(i.ident.to_string()),
            syn::Item::Enum(i) => Some(i.ident.to_string()),
            syn::Item::Union(i) => Some(i.ident.to_string()),
            syn::Item::Trait(i) => Some(i.ident.to_string()),
            syn::Item::Type(i) => Some(i.ident.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_servers_roots_are_router_and_run() {
    // The state every handler shares lives in a module of its own; `lib.rs` re-exports it.
    for (name, state) in [
        ("oauth2-provider", "Provider"),
        ("resource-server", "AppState"),
    ] {
        let defined = root_types(name);
        assert!(
            !defined
                .iter()
                .any(|t| t == state || t == "Inner" || t == "Options"),
            "{name}/src/lib.rs defines {state} (or its parts): {defined:?}; lib.rs is the \
             router and its run/spawn, the state a module of its own"
        );
        let files = crate_files(name);
        let known: BTreeSet<Module> = files.iter().map(|f| f.module.clone()).collect();
        let mut krate = Crate {
            known: known.clone(),
            imports: BTreeMap::new(),
        };
        for f in &files {
            let mut paths = Paths::new(f.module.clone(), &known);
            paths.visit_file(&f.syntax);
            krate.imports.insert(f.module.clone(), paths.imports);
        }
        let at = krate.resolve(&[state.to_owned()]);
        assert!(
            !at.module.is_empty(),
            "{name}: crate::{state} must resolve to its module"
        );
    }
}

#[test]
fn the_checks_see_a_cycle_a_re_export_and_the_crates() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("token", "client_auth"),
        ("client_auth", "store"),
        ("store", "client_auth"),
        ("keys", "store"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), BTreeSet::from([b.to_owned()])))
    .collect();
    assert_eq!(
        cycles(&edges),
        ["client_auth -> store, store -> client_auth"]
    );
    let known: BTreeSet<Module> = [&[][..], &["a"], &["m"], &["m", "n"], &["m", "n", "k"]]
        .iter()
        .map(|m| m.iter().map(|s| s.to_string()).collect())
        .collect();
    let file = syn::parse_file(
        "use crate::{a::{self, X}, b::*}; use super::c; fn f() { crate::d::e(); k::g(); }
         #[cfg(test)] mod tests { use crate::z; }
         #[cfg(all(test, unix))] fn t() { crate::zz::f(); }
         impl S { #[cfg(test)] fn u() { crate::zzz::g(); } }
         #[cfg(not(test))] fn live() { crate::y::h(); }
         pub(crate) fn seen_by_the_crate() {}
         #[cfg(test)] mod fixtures;",
    )
    .unwrap();
    let mut paths = Paths::new(vec!["m".into(), "n".into()], &known);
    paths.visit_file(&file);
    let found: BTreeSet<String> = paths.found.iter().map(|p| p.join("::")).collect();
    for expected in ["a", "a::X", "b", "m::c", "d::e", "m::n::k::g", "y::h"] {
        assert!(found.contains(expected), "{expected} in {found:?}");
    }
    assert!(
        !found.iter().any(|p| p.starts_with('z')),
        "tests are not counted: {found:?}"
    );
    assert!(
        !found.contains(""),
        "pub(crate) is a visibility, not a path to the root: {found:?}"
    );
    assert_eq!(paths.imports["X"], ["a", "X"]);

    // A re-export in lib.rs is followed; an item lib.rs defines is the root's own; and a
    // module using the root's own item while lib.rs uses it is a cycle through the root.
    let parse = |module: &[&str], src: &str| SourceFile {
        path: PathBuf::from("x.rs"),
        module: module.iter().map(|s| s.to_string()).collect(),
        text: src.to_owned(),
        syntax: syn::parse_file(src).unwrap(),
    };
    let files = [
        parse(
            &[],
            "pub use provider::Provider; pub const V: u8 = 1; fn app() { token::run(); }",
        ),
        parse(&["provider"], "pub struct Provider;"),
        parse(
            &["token"],
            "use crate::Provider; pub fn run() { crate::V; }",
        ),
        parse(&["keys"], "fn f(_: crate::Provider) {}"),
    ];
    let levels = sibling_edges(&files);
    let root = &levels[&Vec::new()];
    assert_eq!(root["keys"], BTreeSet::from(["provider".to_owned()]));
    assert!(root["token"].contains(ROOT) && root[ROOT].contains("token"));
    assert_eq!(cycles(root), ["lib.rs -> token, token -> lib.rs"]);

    // Lines are counted with the spans: a test module in the middle does not stop the count.
    let text = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn t() {}\n}\nfn b() {}\nfn c() {}\n";
    assert_eq!(non_test_lines(text, &syn::parse_file(text).unwrap()), 3);

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
