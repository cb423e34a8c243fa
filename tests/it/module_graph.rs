//! The module graph of `src/`: no import cycles, and every error that carries its own help
//! is reachable by the renderer.
//!
//! Edges come from reading the source: every `crate::…`, `super::…` and `self::…` path (in
//! `use` trees and in code), outside comments and string literals, resolved against the
//! module it is written in (inline `mod x { … }` blocks included). Siblings are checked at
//! every depth: the top-level modules of `src/` (`config`, `repository`, `server`, …), the
//! children of each directory module (`server/cache`, `server/store`, …), and theirs
//! (`ecosystem/pypi/lock`, `ecosystem/pypi/restore`, …). A child using its
//! parent's own items (`super::Thing` defined in `mod.rs`) is not an edge, nor is a path
//! reaching a child through a re-export in its parent's `mod.rs`.
//!
//! `cargo nextest run --test it module_graph --no-capture` prints the graph's cycles.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[test]
fn src_modules_form_no_import_cycle() {
    let files = read_src(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let graph = Graph::build(&files);
    let cycles = graph.cycles();
    let report = graph.report(&cycles);
    #[expect(
        clippy::print_stderr,
        reason = "the graph's cycles, for `--no-capture` and a failing run"
    )]
    {
        eprintln!("{report}");
    }
    assert!(
        cycles.is_empty(),
        "import cycles among `src/` modules (make the lower module own the shared item, or move it to a leaf module both import):\n{report}"
    );
}

#[test]
fn every_diagnostic_error_is_probed_and_every_probe_registered() {
    let files = read_src(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let problems = diagnostic_registration_problems(&files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_finds_cycles_through_crate_super_and_grouped_paths_only_in_code() {
    let files = vec![
        source("src/lib.rs", "pub mod a; pub mod b; pub mod c;"),
        // `a` uses `b` in a grouped `use`; the comment and the string name `c`, the raw
        // string names `b::leaf` and none of them counts.
        source(
            "src/a.rs",
            "use crate::{b::{self, leaf::Leaf as L}};\n// crate::c::f()\nconst S: &str = \"crate::c\"; const R: &str = r#\"crate::b::leaf\"#;\nfn f<'a>(x: &'a str) -> char { 'c' }",
        ),
        source(
            "src/b/mod.rs",
            "pub mod leaf;\npub mod root;\npub struct Shared;\n/* crate::a */",
        ),
        // `b/leaf` reaches up to `a` in code (not a `use`), and to its sibling through
        // `super`; `super::Shared` is its parent's item, not an edge.
        source(
            "src/b/leaf.rs",
            "pub struct Leaf;\nfn g() { crate::a::f(\"x\"); let _ = super::root::Root; let _ = super::Shared; }",
        ),
        // `super::*` inside an inline module means `b::root`, not `b`.
        source(
            "src/b/root.rs",
            "pub struct Root;\nuse super::leaf::Leaf;\nmod tests { use super::*; use super::super::Shared; }",
        ),
        source("src/c.rs", "use crate::a;"),
        // Two levels down: `d/e/x` and `d/e/y` name each other (one through `crate::`).
        source("src/d/mod.rs", "pub mod e;"),
        source("src/d/e/mod.rs", "pub mod x; pub mod y;"),
        source("src/d/e/x.rs", "use super::y::Y; pub struct X;"),
        source(
            "src/d/e/y.rs",
            "pub struct Y; fn f() -> crate::d::e::x::X { X }",
        ),
    ];
    let graph = Graph::build(&files);
    let cycles = graph.cycles();
    assert_eq!(
        cycles,
        vec![
            vec!["a".to_owned(), "b".to_owned()],
            vec!["b/leaf".to_owned(), "b/root".to_owned()],
            vec!["d/e/x".to_owned(), "d/e/y".to_owned()],
        ],
        "{}",
        graph.report(&cycles)
    );
    let report = graph.report(&cycles);
    assert!(
        report.contains("a -> b (src/a.rs:1)") && report.contains("b -> a (src/b/leaf.rs:2)"),
        "{report}"
    );
}

#[test]
fn the_registration_check_names_an_unprobed_type_and_an_unregistered_probe() {
    let files = vec![
        source(
            "src/lib.rs",
            "pub mod net; pub mod store;\npub const DIAGNOSTICS: Diagnostics = Diagnostics::new(&[net::diagnostic]);",
        ),
        source(
            "src/net/mod.rs",
            "pub mod dns;\nimpl Diagnostic for NetError {}\npub fn diagnostic(e: &Cause) -> Option<&dyn Diagnostic> { as_diagnostic::<NetError>(e) }",
        ),
        // Probed in its own module, but `net::diagnostic` does not call `dns::diagnostic`.
        source(
            "src/net/dns.rs",
            "impl crate::diagnostics::Diagnostic for DnsError {}\npub fn diagnostic(e: &Cause) -> Option<&dyn Diagnostic> { as_diagnostic::<DnsError>(e) }",
        ),
        // Implemented, never probed, and the module is not in the crate root's list.
        source(
            "src/store.rs",
            "impl Diagnostic for StoreError { fn hint(&self) -> Option<String> { None } }",
        ),
    ];
    assert_eq!(
        diagnostic_registration_problems(&files),
        vec![
            "`src/net/dns.rs`: `dns::diagnostic` is not called from `src/net/mod.rs`".to_owned(),
            "`src/store.rs`: `StoreError` implements `Diagnostic` but no `as_diagnostic::<StoreError>` probes it".to_owned(),
            "`src/store.rs`: `store::diagnostic` is not called from `src/lib.rs`".to_owned(),
        ]
    );
}

/// One source file: its path relative to the package, and its text.
struct Source {
    path: PathBuf,
    text: String,
}

fn source(path: &str, text: &str) -> Source {
    Source {
        path: PathBuf::from(path),
        text: text.to_owned(),
    }
}

fn read_src(src: &Path) -> Vec<Source> {
    let root = src.parent().expect("`src` has a parent");
    let mut files = Vec::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs_err::read_dir(&dir).expect("read `src`") {
            let path = entry.expect("read `src`").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let text = fs_err::read_to_string(&path).expect("read a source file");
                let path = path
                    .strip_prefix(root)
                    .expect("under the package")
                    .to_path_buf();
                files.push(Source { path, text });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The module a file defines: `src/a/b.rs` and `src/a/b/mod.rs` are `["a", "b"]`, the
/// crate root is `[]`; `None` for the binary's root (`src/main.rs`), a crate of its own.
fn module_of(path: &Path) -> Option<Vec<String>> {
    let relative = path.strip_prefix("src").ok()?;
    let mut segments: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|component| component.as_os_str().to_string_lossy().into_owned())
        .collect();
    match segments.last().map(String::as_str) {
        Some("main") if segments.len() == 1 => return None,
        Some("lib") if segments.len() == 1 => segments.clear(),
        Some("mod") => {
            segments.pop();
        }
        _ => {}
    }
    Some(segments)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// The tokens of Rust source that matter for paths, with their line numbers: comments,
/// string, char and byte literals dropped, lifetimes skipped.
fn tokens(text: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut index = 0;
    let count_lines = |from: usize, to: usize, line: &mut usize| {
        *line += chars[from..to].iter().filter(|&&c| c == '\n').count();
    };
    while index < chars.len() {
        let c = chars[index];
        let next = chars.get(index + 1).copied();
        if c == '\n' {
            line += 1;
            index += 1;
        } else if c.is_whitespace() {
            index += 1;
        } else if c == '/' && next == Some('/') {
            while index < chars.len() && chars[index] != '\n' {
                index += 1;
            }
        } else if c == '/' && next == Some('*') {
            let start = index;
            let mut depth = 0;
            while index < chars.len() {
                if chars[index] == '/' && chars.get(index + 1) == Some(&'*') {
                    depth += 1;
                    index += 2;
                } else if chars[index] == '*' && chars.get(index + 1) == Some(&'/') {
                    depth -= 1;
                    index += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    index += 1;
                }
            }
            count_lines(start, index.min(chars.len()), &mut line);
        } else if c == '"' || ((c == 'b' || c == 'c') && next == Some('"')) {
            let start = index;
            index += if c == '"' { 1 } else { 2 };
            while index < chars.len() && chars[index] != '"' {
                index += if chars[index] == '\\' { 2 } else { 1 };
            }
            index += 1;
            count_lines(start, index.min(chars.len()), &mut line);
        } else if let Some(hashes) = raw_string_start(&chars, index) {
            let start = index;
            index = hashes.0;
            let closing: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes.1))
                .collect();
            while index < chars.len() && !chars[index..].starts_with(&closing) {
                index += 1;
            }
            index += closing.len();
            count_lines(start, index.min(chars.len()), &mut line);
        } else if c == '\'' {
            // A char literal ('c', '\n', '\u{1F600}') or a lifetime ('a, 'static).
            if next == Some('\\') {
                index += 2;
                while index < chars.len() && chars[index] != '\'' {
                    index += 1;
                }
                index += 1;
            } else if chars.get(index + 2) == Some(&'\'') {
                index += 3;
            } else {
                index += 1;
                while index < chars.len() && is_ident_char(chars[index]) {
                    index += 1;
                }
            }
        } else if c == ':' && next == Some(':') {
            out.push((Token::PathSep, line));
            index += 2;
        } else if is_ident_char(c) {
            let start = index;
            while index < chars.len() && is_ident_char(chars[index]) {
                index += 1;
            }
            let word: String = chars[start..index].iter().collect();
            let word = word.strip_prefix("r#").map_or(word.clone(), str::to_owned);
            out.push((Token::Ident(word), line));
        } else {
            out.push((Token::Punct(c), line));
            index += 1;
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// At a raw string (`r"…"`, `r#"…"#`, `br#"…"#`): where its body starts and how many `#`.
fn raw_string_start(chars: &[char], index: usize) -> Option<(usize, usize)> {
    let mut at = index;
    if chars.get(at) == Some(&'b') || chars.get(at) == Some(&'c') {
        at += 1;
    }
    if chars.get(at) != Some(&'r') {
        return None;
    }
    if index > 0 && is_ident_char(chars[index - 1]) {
        return None;
    }
    at += 1;
    let mut hashes = 0;
    while chars.get(at) == Some(&'#') {
        hashes += 1;
        at += 1;
    }
    (chars.get(at) == Some(&'"')).then_some((at + 1, hashes))
}

/// A path written in a file: the module it is written in, and what it names (absolute).
struct Reference {
    scope: Vec<String>,
    target: Vec<String>,
    line: usize,
}

/// Every `crate::`/`super::`/`self::` path of a file, resolved.
fn references(file_module: &[String], text: &str) -> Vec<Reference> {
    let tokens = tokens(text);
    let mut out = Vec::new();
    // Inline modules: (name, the brace depth their body closes at).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut index = 0;
    while index < tokens.len() {
        let scope: Vec<String> = file_module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(name, _)| name.clone()))
            .collect();
        match &tokens[index].0 {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth -= 1;
                if inline.last().is_some_and(|(_, at)| *at == depth) {
                    inline.pop();
                }
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some((Token::Ident(name), _)), Some((Token::Punct('{'), _))) =
                    (tokens.get(index + 1), tokens.get(index + 2))
                {
                    inline.push((name.clone(), depth));
                    depth += 1;
                    index += 3;
                    continue;
                }
            }
            Token::Ident(word) if word == "use" => {
                let mut paths = Vec::new();
                let end = use_tree(&tokens, index + 1, &[], &mut paths);
                for (path, line) in paths {
                    if let Some(target) = resolve(&scope, &path) {
                        out.push(Reference {
                            scope: scope.clone(),
                            target,
                            line,
                        });
                    }
                }
                index = end.max(index + 1);
                continue;
            }
            Token::Ident(word)
                if matches!(word.as_str(), "crate" | "super" | "self")
                    && index
                        .checked_sub(1)
                        .is_none_or(|before| tokens[before].0 != Token::PathSep) =>
            {
                let line = tokens[index].1;
                let mut path = vec![word.clone()];
                let mut at = index + 1;
                while let (Some((Token::PathSep, _)), Some((Token::Ident(next), _))) =
                    (tokens.get(at), tokens.get(at + 1))
                {
                    path.push(next.clone());
                    at += 2;
                }
                if let Some(target) = resolve(&scope, &path) {
                    out.push(Reference {
                        scope: scope.clone(),
                        target,
                        line,
                    });
                }
                index = at;
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    out
}

/// Parse a `use` tree from `index`, appending every full path under `prefix`; returns the
/// index after the tree.
fn use_tree(
    tokens: &[(Token, usize)],
    mut index: usize,
    prefix: &[String],
    paths: &mut Vec<(Vec<String>, usize)>,
) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(index) {
            Some((Token::Ident(word), line)) => {
                let line = *line;
                path.push(word.clone());
                index += 1;
                if tokens.get(index).map(|(token, _)| token) == Some(&Token::PathSep) {
                    index += 1;
                    continue;
                }
                // `as name`
                if word != "as"
                    && tokens.get(index).map(|(token, _)| token)
                        == Some(&Token::Ident("as".to_owned()))
                {
                    index += 2;
                }
                paths.push((path, line));
                return index;
            }
            Some((Token::Punct('{'), _)) => {
                index += 1;
                loop {
                    match tokens.get(index) {
                        Some((Token::Punct('}'), _)) => return index + 1,
                        Some((Token::Punct(','), _)) => index += 1,
                        Some(_) => index = use_tree(tokens, index, &path, paths),
                        None => return index,
                    }
                }
            }
            Some((Token::Punct('*'), at)) => {
                paths.push((path, *at));
                return index + 1;
            }
            _ => return index,
        }
    }
}

/// `crate::a::b` → `[a, b]`; `super::x` and `self::x` relative to `scope`; `None` for
/// paths into other crates or into the scope's own children without `self::`.
fn resolve(scope: &[String], path: &[String]) -> Option<Vec<String>> {
    let (mut base, rest): (Vec<String>, &[String]) = match path.first()?.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (scope.to_vec(), &path[1..]),
        "super" => {
            let supers = path
                .iter()
                .take_while(|segment| *segment == "super")
                .count();
            if supers > scope.len() {
                return None;
            }
            (scope[..scope.len() - supers].to_vec(), &path[supers..])
        }
        _ => return None,
    };
    base.extend(rest.iter().filter(|segment| *segment != "self").cloned());
    Some(base)
}

/// The module graph between siblings at every level, with one example of each edge.
struct Graph {
    /// `from -> to -> (file, line)`, with nodes named `a` (top level), `a/b` (child of a
    /// directory module), `a/b/c` and so on; an edge joins two children of one module.
    edges: BTreeMap<String, BTreeMap<String, (PathBuf, usize)>>,
}

impl Graph {
    fn build(files: &[Source]) -> Self {
        let modules: BTreeSet<Vec<String>> =
            files.iter().filter_map(|f| module_of(&f.path)).collect();
        let mut edges: BTreeMap<String, BTreeMap<String, (PathBuf, usize)>> = BTreeMap::new();
        for file in files {
            let Some(module) = module_of(&file.path) else {
                continue;
            };
            for reference in references(&module, &file.text) {
                let (scope, target) = (&reference.scope, &reference.target);
                // The children of their nearest common module that hold each side: siblings
                // at any depth (`a` and `b`, `b/leaf` and `b/root`, `b/c/x` and `b/c/y`).
                let common = scope
                    .iter()
                    .zip(target)
                    .take_while(|(left, right)| left == right)
                    .count();
                let (Some(from), Some(to)) = (scope.get(..=common), target.get(..=common)) else {
                    continue;
                };
                if !(modules.contains(from) && modules.contains(to)) {
                    continue;
                }
                edges
                    .entry(from.join("/"))
                    .or_default()
                    .entry(to.join("/"))
                    .or_insert_with(|| (file.path.clone(), reference.line));
            }
        }
        Self { edges }
    }

    /// Strongly connected components of more than one node, each sorted, in order.
    fn cycles(&self) -> Vec<Vec<String>> {
        let nodes: BTreeSet<&String> = self
            .edges
            .iter()
            .flat_map(|(from, to)| std::iter::once(from).chain(to.keys()))
            .collect();
        let reaches = |from: &String| -> BTreeSet<String> {
            let mut seen = BTreeSet::new();
            let mut pending = vec![from.clone()];
            while let Some(node) = pending.pop() {
                for next in self.edges.get(&node).into_iter().flat_map(BTreeMap::keys) {
                    if seen.insert(next.clone()) {
                        pending.push(next.clone());
                    }
                }
            }
            seen
        };
        let reach: BTreeMap<&String, BTreeSet<String>> =
            nodes.iter().map(|node| (*node, reaches(node))).collect();
        let mut cycles: Vec<Vec<String>> = Vec::new();
        for node in &nodes {
            let component: Vec<String> = nodes
                .iter()
                .filter(|other| {
                    *other == node
                        || (reach[*node].contains(**other) && reach[*other].contains(*node))
                })
                .map(|other| (*other).clone())
                .collect();
            if component.len() > 1 && !cycles.contains(&component) {
                cycles.push(component);
            }
        }
        cycles.sort();
        cycles
    }

    fn report(&self, cycles: &[Vec<String>]) -> String {
        let mut out = String::new();
        if cycles.is_empty() {
            out.push_str("no import cycle among `src/` modules\n");
        }
        for cycle in cycles {
            let _ = writeln!(out, "cycle: {}", cycle.join(", "));
            for from in cycle {
                for (to, (path, line)) in self.edges.get(from).into_iter().flatten() {
                    if cycle.contains(to) {
                        let _ = writeln!(out, "  {from} -> {to} ({}:{line})", path.display());
                    }
                }
            }
        }
        out
    }
}

/// What keeps an error's hint and exit code from reaching the renderer: a type that
/// implements `Diagnostic` without an `as_diagnostic::<Type>` probe in its file, or a
/// module whose `diagnostic` probe its parent (the crate root for a top-level module)
/// never calls. `src/diagnostics.rs` recognises its own types.
fn diagnostic_registration_problems(files: &[Source]) -> Vec<String> {
    let by_module: BTreeMap<Vec<String>, &Source> = files
        .iter()
        .filter_map(|file| Some((module_of(&file.path)?, file)))
        .collect();
    let mut problems = Vec::new();
    for (module, file) in &by_module {
        if module.as_slice() == ["diagnostics"] {
            continue;
        }
        let tokens = tokens_of(&file.text);
        let implemented = diagnostic_impls(&tokens);
        if implemented.is_empty() {
            continue;
        }
        for name in &implemented {
            let probed = tokens.windows(4).any(|window| {
                window[0] == Token::Ident("as_diagnostic".to_owned())
                    && window[1] == Token::PathSep
                    && window[2] == Token::Punct('<')
                    && window[3] == Token::Ident((*name).clone())
            });
            if !probed {
                problems.push(format!(
                    "`{}`: `{name}` implements `Diagnostic` but no `as_diagnostic::<{name}>` probes it",
                    file.path.display()
                ));
            }
        }
        let parent = &module[..module.len() - 1];
        let Some(parent_file) = by_module.get(parent) else {
            continue;
        };
        let own_name = &module[module.len() - 1];
        let called = tokens_of(&parent_file.text).windows(3).any(|window| {
            window[0] == Token::Ident(own_name.clone())
                && window[1] == Token::PathSep
                && window[2] == Token::Ident("diagnostic".to_owned())
        });
        if !called {
            problems.push(format!(
                "`{}`: `{own_name}::diagnostic` is not called from `{}`",
                file.path.display(),
                parent_file.path.display()
            ));
        }
    }
    problems.sort();
    problems
}

fn tokens_of(text: &str) -> Vec<Token> {
    tokens(text).into_iter().map(|(token, _)| token).collect()
}

/// The types named in `impl Diagnostic for Type` / `impl crate::diagnostics::Diagnostic for
/// Type` items.
fn diagnostic_impls(tokens: &[Token]) -> Vec<String> {
    let ident = |at: usize| match tokens.get(at) {
        Some(Token::Ident(word)) => Some(word.as_str()),
        _ => None,
    };
    let mut found = Vec::new();
    for start in (0..tokens.len()).filter(|&at| ident(at) == Some("impl")) {
        let mut at = start + 1;
        let mut trait_name = None;
        while let Some(token) = tokens.get(at) {
            match token {
                Token::Ident(word) if word != "for" => trait_name = Some(word.as_str()),
                Token::PathSep => {}
                _ => break,
            }
            at += 1;
        }
        if trait_name == Some("Diagnostic") && ident(at) == Some("for") {
            if let Some(name) = ident(at + 1) {
                found.push(name.to_owned());
            }
        }
    }
    found
}
