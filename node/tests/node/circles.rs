//! Architecture invariant: inside each crate of the workspace, the files' imports draw no
//! circle (issue 16). A module may read its own submodules and they may read it back (a
//! directory module and its files are one idea: `tally/` and its methods, `api/` and its
//! handlers); between any other two files, imports go one way, so every floor reads
//! top-down. The graph is drawn from the paths a file writes — `crate::…`, `super::…`,
//! `self::…`, in `use` items and inline — outside comments and `#[cfg(test)]` modules.
//! It reads files only; it starts nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::tidy::{root, rust_files, source_dirs};

/// A module's path inside its crate: `[]` for the root, `["secret", "judged"]` for
/// `src/secret/judged.rs`.
type Module = Vec<String>;

/// The module a source file is, from its path under `src/`; `None` for a file that is a
/// crate root of its own (`main.rs` beside a `lib.rs`, or `src/bin/`).
fn module_of(src: &Path, file: &Path, has_lib: bool) -> Option<Module> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    match stem {
        "lib" | "main" if parts.is_empty() => (stem == "lib" || !has_lib).then(Vec::new),
        "mod" => Some(parts),
        _ => {
            parts.push(stem.to_owned());
            Some(parts)
        }
    }
}

/// `text` without comments and without its `#[cfg(test)]` module (which sits last).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                ""
            } else {
                match line.find(" // ") {
                    Some(at) => &line[..at],
                    None => line,
                }
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path `text` writes from `crate`, `super` or `self`, a `use` tree's braces
/// expanded: `use crate::a::{b, c::{self, D}}` gives `crate::a::b`, `crate::a::c`,
/// `crate::a::c::D`.
fn paths_in(text: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':');
        let word = ["crate", "super", "self"].into_iter().find(|w| {
            let w: Vec<char> = w.chars().collect();
            chars[i..].starts_with(&w) && chars[i + w.len()..].starts_with(&[':', ':'])
        });
        match word {
            Some(_) if starts_word => i = tree(&chars, i, Vec::new(), &mut out),
            _ => i += 1,
        }
    }
    out
}

/// Reads one path tree from `i` (segments joined by `::`, maybe ending in a braced list
/// of trees), pushing each full path under `prefix`; returns where it stopped.
fn tree(
    chars: &[char],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        if chars.get(i) == Some(&'{') {
            i += 1;
            loop {
                while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
                    i += 1;
                }
                match chars.get(i) {
                    Some('}') => return i + 1,
                    Some(_) => i = tree(chars, i, prefix.clone(), out),
                    None => return i,
                }
            }
        }
        let start = i;
        while chars.get(i).is_some_and(|c| is_ident(*c)) {
            i += 1;
        }
        let segment: String = chars[start..i].iter().collect();
        if segment.is_empty() {
            if !prefix.is_empty() {
                out.push(prefix);
            }
            return i;
        }
        if segment != "self" || prefix.is_empty() {
            prefix.push(segment);
        }
        if chars[i..].starts_with(&[':', ':']) {
            i += 2;
        } else {
            out.push(prefix);
            return i;
        }
    }
}

/// What each module re-exports (`pub use child::Item;`), by name: the path as written.
type Reexports = BTreeMap<Module, BTreeMap<String, Vec<String>>>;

/// The re-exports of every file: a path through one is charged to the module it comes
/// from, so that a parent's `pub use` cannot hide a circle between its children.
fn reexports(files: &[(Module, String)]) -> Reexports {
    let mut all = Reexports::new();
    for (m, text) in files {
        let code = code_of(text);
        let chars: Vec<char> = code.chars().collect();
        let mut found = Vec::new();
        for (at, _) in code.match_indices("use ") {
            let line_start = code[..at].rfind('\n').map_or(0, |n| n + 1);
            let lead = code[line_start..at].trim();
            if lead == "pub" || (lead.starts_with("pub(") && lead.ends_with(')')) {
                let i = code[..at + 4].chars().count();
                tree(&chars, i, Vec::new(), &mut found);
            }
        }
        let names = all.entry(m.clone()).or_default();
        for path in found {
            if let Some(name) = path.last() {
                names.insert(name.clone(), path);
            }
        }
    }
    all
}

/// The module a path from `from` names: the longest known module it starts with, or,
/// when it goes on through a re-export of that module, the module re-exported from.
fn target(
    modules: &BTreeSet<Module>,
    reexported: &Reexports,
    from: &Module,
    path: &[String],
) -> Option<Module> {
    let (mut base, rest) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("self") => (from.clone(), &path[1..]),
        Some("super") => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            (from[..from.len().checked_sub(ups)?].to_vec(), &path[ups..])
        }
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    for _ in 0..8 {
        let module = (0..=base.len())
            .rev()
            .map(|n| base[..n].to_vec())
            .find(|m| modules.contains(m))?;
        let via = base
            .get(module.len())
            .and_then(|name| reexported.get(&module)?.get(name));
        let Some(via) = via else {
            return Some(module);
        };
        // `pub use child::Item` or `pub use crate::…`: where the item really is.
        let mut next = match via.first().map(String::as_str) {
            Some("crate") => via[1..].to_vec(),
            Some("self") => [module.clone(), via[1..].to_vec()].concat(),
            Some("super") => {
                let ups = via.iter().take_while(|s| *s == "super").count();
                let up = module.len().checked_sub(ups)?;
                [module[..up].to_vec(), via[ups..].to_vec()].concat()
            }
            Some(child) if modules.contains(&[module.clone(), vec![child.to_owned()]].concat()) => {
                [module.clone(), via.clone()].concat()
            }
            _ => return Some(module), // from another crate
        };
        next.extend(base[module.len() + 1..].iter().cloned());
        base = next;
    }
    None
}

/// The import graph of one crate's files, `(module, source text)`: an edge from a file to
/// every other file it names, except its own ancestors and descendants.
fn graph(files: &[(Module, String)]) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules: BTreeSet<Module> = files.iter().map(|(m, _)| m.clone()).collect();
    let reexported = reexports(files);
    let mut edges = BTreeMap::new();
    for (from, text) in files {
        let to: BTreeSet<Module> = paths_in(&code_of(text))
            .iter()
            .filter_map(|p| target(&modules, &reexported, from, p))
            .filter(|t| !t.starts_with(from) && !from.starts_with(t))
            .collect();
        edges.insert(from.clone(), to);
    }
    edges
}

/// The circles of `graph`: its strongly connected components of more than one module
/// (Tarjan's algorithm), each sorted.
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        found: Vec<Vec<Module>>,
    }
    impl<'g> Walk<'g> {
        /// Visits `v`; returns the lowest index it reaches.
        fn visit(&mut self, v: &'g Module) -> usize {
            let graph = self.graph;
            let n = self.index.len();
            self.index.insert(v, n);
            self.stack.push(v);
            let mut low = n;
            for w in graph.get(v).into_iter().flatten() {
                low = match self.index.get(w) {
                    None => low.min(self.visit(w)),
                    Some(&i) if self.stack.contains(&w) => low.min(i),
                    Some(_) => low,
                };
            }
            if low == n {
                let at = self
                    .stack
                    .iter()
                    .rposition(|m| *m == v)
                    .expect("on the stack");
                let mut component: Vec<Module> = self.stack.drain(at..).cloned().collect();
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
            low
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn show(m: &Module) -> String {
    match m.is_empty() {
        true => "(root)".to_owned(),
        false => m.join("::"),
    }
}

#[test]
fn no_module_imports_in_a_circle() {
    let root = root();
    let mut found = Vec::new();
    let mut n_files = 0;
    for src in source_dirs(&root) {
        let member = src
            .parent()
            .and_then(|m| m.strip_prefix(&root).ok())
            .map(|m| m.display().to_string())
            .unwrap_or_default();
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        let has_lib = src.join("lib.rs").exists();
        let files: Vec<(Module, String)> = paths
            .iter()
            .filter_map(|p| {
                let m = module_of(&src, p, has_lib)?;
                Some((m, std::fs::read_to_string(p).expect("a readable file")))
            })
            .collect();
        n_files += files.len();
        let g = graph(&files);
        for circle in circles(&g) {
            let edges: Vec<String> = circle
                .iter()
                .flat_map(|a| {
                    g[a].iter()
                        .filter(|b| circle.contains(b))
                        .map(move |b| format!("{} → {}", show(a), show(b)))
                })
                .collect();
            found.push(format!("{member}: {}", edges.join(", ")));
        }
    }
    assert!(n_files > 100, "the workspace's sources were not found");
    assert!(
        found.is_empty(),
        "imports in a circle (move what both sides need where it belongs):\n{}",
        found.join("\n")
    );
}

/// The finder sees what it should: a checker that cannot see a circle would always pass.
#[test]
fn the_circle_finder_finds_circles_and_only_them() {
    let m = |s: &str| -> Module {
        s.split("::")
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let files = vec![
        (m(""), "pub mod a;\npub mod b;\npub mod c;\n".to_owned()),
        (m("a"), "use crate::b::{X, deep::Y};\n".to_owned()),
        // Written in a comment or in the tests, a path does not count.
        (
            m("b"),
            "use crate::{\n    a::{self, Z},\n    c,\n};\n// crate::c::W\n#[cfg(test)]\nmod tests {\n    use crate::c::W;\n}\n"
                .to_owned(),
        ),
        (m("b::deep"), "fn f() { super::super::c::g(); }\n".to_owned()),
        (m("c"), "use self::d::Q;\nfn g() { let _ = crate::c::d::h(); }\n".to_owned()),
        (m("c::d"), "use super::P;\nuse crate::c::R;\n".to_owned()),
        // Through its parent's re-export, `e::f` reads `e::g`, which reads `e::f`.
        (m("e"), "mod f;\nmod g;\npub use f::F;\npub(crate) use g::G;\npub use std::fmt::Debug;\n".to_owned()),
        (m("e::f"), "use super::G;\nuse super::Debug;\n".to_owned()),
        (m("e::g"), "use crate::e::F;\n".to_owned()),
    ];
    let g = graph(&files);
    assert_eq!(g[&m("a")], BTreeSet::from([m("b"), m("b::deep")]));
    assert_eq!(g[&m("b")], BTreeSet::from([m("a"), m("c")]));
    assert_eq!(g[&m("b::deep")], BTreeSet::from([m("c")]));
    // A module and its own files read each other freely.
    assert!(g[&m("c")].is_empty() && g[&m("c::d")].is_empty());
    assert_eq!(g[&m("e::f")], BTreeSet::from([m("e::g")]));
    assert_eq!(
        circles(&g),
        vec![vec![m("a"), m("b")], vec![m("e::f"), m("e::g")]]
    );
    assert_eq!(
        paths_in("x::crate::y; use super::{a::b, c::{self, d}};"),
        vec![
            vec!["super".to_owned(), "a".to_owned(), "b".to_owned()],
            vec!["super".to_owned(), "c".to_owned()],
            vec!["super".to_owned(), "c".to_owned(), "d".to_owned()],
        ]
    );
}
