//! The crate's layering, checked on its source: every `crate::` path outside test code names a
//! folder that its file may import (`lib.rs` gives the order), and no two files import each
//! other, directly or round a longer circle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each folder and the folders it may import.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("numerics", &["error"]),
    ("terms", &["error", "numerics"]),
    ("family", &["error", "numerics", "terms"]),
    ("batch", &["error", "numerics"]),
    ("lmm", &["error", "numerics", "terms", "family", "batch"]),
    ("glmm", &["error", "numerics", "terms", "family", "batch"]),
    ("npml", &["error", "numerics", "batch"]),
    ("py", &["error", "numerics", "terms", "family", "batch", "lmm", "glmm", "npml"]),
];

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rust")
}

/// Every `.rs` file below `dir`, as a path relative to the source root.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(source_root()).unwrap().to_path_buf());
        }
    }
}

/// The module path of a file: `glmm/sparse/model.rs` → ["glmm", "sparse", "model"],
/// `glmm/mod.rs` → ["glmm"].
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The source without its test code: everything from a `#[cfg(test)]` line on (tests come
/// last in every file, and test-only modules may use anything).
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// The module paths named by `crate::a::b::…` in `text`: the lower-case segments after
/// `crate::` (a function's name may end the path; `resolve` finds the module in it).
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    text.match_indices("crate::")
        .map(|(i, _)| {
            let rest = &text[i + "crate::".len()..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
            rest[..end].split("::").take_while(|s| !s.is_empty() && s.starts_with(|c: char| c.is_ascii_lowercase())).map(String::from).collect()
        })
        .collect()
}

/// The file a module path resolves to: its longest prefix that is a module of the crate.
fn resolve<'a>(path: &[String], modules: &'a BTreeMap<Vec<String>, PathBuf>) -> Option<&'a PathBuf> {
    (1..=path.len()).rev().find_map(|k| modules.get(&path[..k]))
}

fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut all = Vec::new();
    files(&source_root(), &mut all);
    let modules: BTreeMap<Vec<String>, PathBuf> = all.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut edges = BTreeMap::new();
    for file in &all {
        let text = fs::read_to_string(source_root().join(file)).unwrap();
        let targets: BTreeSet<PathBuf> = crate_paths(non_test(&text)).iter().filter_map(|p| resolve(p, &modules)).filter(|t| *t != file).cloned().collect();
        edges.insert(file.clone(), targets);
    }
    edges
}

fn folder(file: &Path) -> String {
    module_of(file).first().cloned().unwrap_or_default()
}

#[test]
fn folders_import_only_the_folders_below_them() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (file, targets) in graph() {
        let from = folder(&file);
        if from.is_empty() || from == "testdata" || from == "layering" {
            continue;
        }
        let may = allowed.get(from.as_str()).unwrap_or_else(|| panic!("{} is in a folder the layering does not list", file.display()));
        for target in targets {
            let to = folder(&target);
            if to != from && !may.contains(&to.as_str()) {
                wrong.push(format!("{} imports {}", file.display(), target.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layering of lib.rs:\n{}", wrong.join("\n"));
}

#[test]
fn no_file_imports_itself_round_a_circle() {
    let edges = graph();
    // depth-first search with colours: 1 on the current path, 2 finished
    fn visit(f: &PathBuf, edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>, colour: &mut BTreeMap<PathBuf, u8>, path: &mut Vec<PathBuf>) -> Option<Vec<PathBuf>> {
        colour.insert(f.clone(), 1);
        path.push(f.clone());
        for t in &edges[f] {
            match colour.get(t) {
                Some(1) => {
                    let start = path.iter().position(|p| p == t).unwrap();
                    return Some(path[start..].iter().cloned().chain([t.clone()]).collect());
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(t, edges, colour, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        colour.insert(f.clone(), 2);
        None
    }
    let mut colour = BTreeMap::new();
    for f in edges.keys() {
        if !colour.contains_key(f) {
            if let Some(circle) = visit(f, &edges, &mut colour, &mut Vec::new()) {
                let names: Vec<String> = circle.iter().map(|p| p.display().to_string()).collect();
                panic!("import circle: {}", names.join(" -> "));
            }
        }
    }
}

#[test]
fn crate_paths_are_read_to_their_last_module() {
    let paths = crate_paths("use crate::glmm::sparse::model::{Evaluation, SparseGlmm};\nlet g = crate::glmm::sparse::laplace_gradient::gradient(self);");
    assert_eq!(paths[0], ["glmm", "sparse", "model"]);
    assert_eq!(paths[1], ["glmm", "sparse", "laplace_gradient", "gradient"]);
}
