//! The layers of `src/` import in one direction only: the table below is
//! the one in `src/lib.rs` and `docs/architecture.md`, and this test fails
//! for a file that imports against it (by `use crate::…`, a path written
//! inline, or `$crate::…` in a macro), or that reaches for HTTP where it
//! must not.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module of the crate, its layer, and the modules it may
/// import besides its own. Layers further down import only what is below.
const LAYERS: &[(&str, &[&str], &[&str])] = &[
    // entry points: may import everything.
    (
        "entry",
        &["main", "lib", "startup", "jobs", "demo", "benchdata"],
        &["*"],
    ),
    // HTTP: routes and what serves them.
    (
        "http",
        &[
            "routes",
            "dashboard",
            "openapi",
            "telemetry",
            "state",
            "error",
        ],
        &[
            "routes",
            "dashboard",
            "openapi",
            "telemetry",
            "state",
            "error",
            "service",
            "auth",
            "kinds",
            "analytics",
            "export",
            "mail",
            "domain",
            "clock",
            "config",
        ],
    ),
    // Use cases: no HTTP, no routes, no application state.
    (
        "service",
        &["service"],
        &[
            "service",
            "db",
            "kinds",
            "analytics",
            "export",
            "mail",
            "auth",
            "domain",
            "clock",
            "config",
        ],
    ),
    ("auth", &["auth"], &["auth", "domain", "clock", "config"]),
    (
        "export",
        &["export"],
        &["export", "kinds", "analytics", "domain", "clock", "config"],
    ),
    (
        "kinds",
        &["kinds"],
        &["kinds", "analytics", "db", "domain", "clock", "config"],
    ),
    ("mail", &["mail"], &["mail", "domain", "clock", "config"]),
    (
        "analytics",
        &["analytics"],
        &["analytics", "domain", "clock", "config"],
    ),
    ("db", &["db"], &["db", "domain", "clock", "config"]),
    ("domain", &["domain"], &["domain", "clock", "config"]),
    ("base", &["clock", "config"], &["clock", "config"]),
];

/// `error.rs` is the one place that turns storage errors into HTTP answers;
/// `state.rs` holds the pool handle (`db::Db`) that handlers pass to
/// services as one of their pieces, and nothing else of storage.
const EXCEPTIONS: &[(&str, &str)] = &[("error", "db"), ("state", "db")];

/// Layers that must not touch HTTP types or the application state.
const NO_HTTP: &[&str] = &[
    "service",
    "auth",
    "export",
    "kinds",
    "mail",
    "analytics",
    "db",
    "domain",
    "base",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text without comments and string literals (doc comments name
/// modules in prose; strings may hold anything).
fn code_of(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !ident_before(&chars, i) {
            // A raw string: r"…", r#"…"#.
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            // A character literal such as '"' (not a lifetime).
            out.push_str("' '");
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            while i + 1 < chars.len() && chars[i + 1] != '\'' {
                i += 1;
            }
            i += 2;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The first segment of every path that starts at the crate root.
fn crate_imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        if start > 0 {
            let before = bytes[start - 1] as char;
            if (before.is_alphanumeric() || before == '_') && before != '$' {
                continue;
            }
        }
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::b, c}`: the first segment of each item.
            let mut depth = 1;
            let mut item_start = true;
            let mut word = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if c.is_alphanumeric() || c == '_' => {
                        if item_start {
                            word.push(c);
                        }
                    }
                    _ => {
                        if !word.is_empty() {
                            found.insert(std::mem::take(&mut word));
                            item_start = false;
                        }
                    }
                }
            }
            if !word.is_empty() {
                found.insert(word);
            }
        } else {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !word.is_empty() {
                found.insert(word);
            }
        }
    }
    found
}

fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_owned()
}

fn layer_of(
    module: &str,
) -> &'static (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
) {
    LAYERS
        .iter()
        .find(|(_, modules, _)| modules.contains(&module))
        .unwrap_or_else(|| panic!("src/{module} is in no layer: add it to the table"))
}

/// Every import against the table, as `file: imports module`.
fn violations() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let modules: BTreeSet<&str> = LAYERS
        .iter()
        .flat_map(|(_, m, _)| m.iter().copied())
        .collect();
    let mut found = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        let (layer, _, allowed) = layer_of(&module);
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let name = file.strip_prefix(&src).unwrap().display().to_string();
        for import in crate_imports(&code) {
            // Names that are no module (`crate::logbook_kinds!`, a macro at
            // the crate's root) carry no layer.
            if !modules.contains(import.as_str()) || allowed.contains(&"*") {
                continue;
            }
            if allowed.contains(&import.as_str())
                || EXCEPTIONS.contains(&(module.as_str(), import.as_str()))
            {
                continue;
            }
            found.push(format!("src/{name} ({layer}) imports crate::{import}"));
        }
        if NO_HTTP.contains(layer) {
            for http in [
                "actix_web",
                "actix_http",
                "AppState",
                "HttpRequest",
                "HttpResponse",
            ] {
                if code.contains(http) {
                    found.push(format!("src/{name} ({layer}) uses {http}"));
                }
            }
        }
    }
    found
}

#[test]
fn every_file_imports_only_the_layers_below_it() {
    let found = violations();
    assert!(
        found.is_empty(),
        "imports against the layers of src/lib.rs:\n{}",
        found.join("\n")
    );
}

/// The checker itself sees the forms an import takes.
#[test]
fn the_checker_reads_every_form_of_an_import() {
    let code = code_of(
        "use crate::{db::records, kinds::{Kind, Record}};\n\
         // use crate::routes;\n\
         /* crate::state */ let x = \"crate::error\";\n\
         fn f() { crate::service::logbook::put(); $crate::auth::x(); }\n\
         let c = '\"'; let r = r#\"crate::jobs\"#;",
    );
    let imports: Vec<String> = crate_imports(&code).into_iter().collect();
    assert_eq!(imports, ["auth", "db", "kinds", "service"]);
}
