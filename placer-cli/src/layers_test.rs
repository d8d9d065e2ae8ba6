//! The crate's layers import only toward the left: each `src/<layer>/`
//! folder (and `src/<layer>.rs`) may name `crate::<layer>` for itself and
//! the layers before it in [`LAYERS`], never one after it.

use std::fs;
use std::path::{Path, PathBuf};

/// The layers, left to right.
const LAYERS: [&str; 7] = [
    "cli", "store", "config", "backends", "runtime", "service", "commands",
];

/// The layer a source file belongs to: its first path component under
/// `src/` (`store/etcd.rs` and `store.rs` are in `store`). `None` for the
/// crate root's files (`lib.rs`, `main.rs`, this test).
fn layer_of(relative: &Path) -> Option<usize> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    LAYERS.iter().position(|layer| *layer == name)
}

/// Every `crate::<layer>` a source text names: in `use` lines, grouped
/// imports (`use crate::{a, b}`) and paths in code or doc links alike.
fn layers_named(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let names: Vec<&str> = match after.strip_prefix('{') {
                Some(group) => {
                    let group = group.split('}').next().unwrap_or(group);
                    group.split(',').map(str::trim).collect()
                }
                None => vec![after],
            };
            for name in names {
                let ident: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if let Some(layer) = LAYERS.iter().position(|layer| *layer == ident) {
                    found.push((index + 1, layer));
                }
            }
            rest = after;
        }
    }
    found
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            into.push(path);
        }
    }
}

/// The imports of `text` (a file of layer `from`) that go rightward.
fn backward_imports(from: usize, text: &str) -> Vec<String> {
    layers_named(text)
        .into_iter()
        .filter(|&(_, to)| to > from)
        .map(|(line, to)| format!("line {line}: {} imports {}", LAYERS[from], LAYERS[to]))
        .collect()
}

#[test]
fn every_layer_imports_only_the_layers_to_its_left() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut layered = 0;
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let Some(from) = layer_of(relative) else {
            continue;
        };
        layered += 1;
        let text = fs::read_to_string(file).unwrap();
        for problem in backward_imports(from, &text) {
            wrong.push(format!("{}: {problem}", relative.display()));
        }
    }
    // Each layer has files: a folder renamed away would make this pass
    // by reading nothing.
    for (index, layer) in LAYERS.iter().enumerate() {
        assert!(
            files
                .iter()
                .any(|file| layer_of(file.strip_prefix(&src).unwrap()) == Some(index)),
            "no file in layer {layer}"
        );
    }
    assert!(layered > 30, "only {layered} files read");
    assert!(
        wrong.is_empty(),
        "imports against the layers (cli < store < config < backends < runtime < service < commands):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_plain_grouped_and_inline_paths() {
    let store = 1;
    assert_eq!(
        backward_imports(store, "use crate::runtime::Inputs;"),
        ["line 1: store imports runtime"]
    );
    assert_eq!(
        backward_imports(store, "use crate::{cli::GlobalArgs, service};"),
        ["line 1: store imports service"]
    );
    assert_eq!(
        backward_imports(store, "\n    let x = crate::config::resolve::UNNAMED_APP;"),
        ["line 2: store imports config"]
    );
    assert!(backward_imports(
        store,
        "use crate::cli::GlobalArgs;\nuse crate::store::StateUrl;"
    )
    .is_empty());
    assert!(backward_imports(store, "use crate::storefront::X;").is_empty());
}

#[test]
fn files_belong_to_the_layer_of_their_folder() {
    assert_eq!(layer_of(Path::new("store/etcd.rs")), Some(1));
    assert_eq!(layer_of(Path::new("cli.rs")), Some(0));
    assert_eq!(layer_of(Path::new("commands/offline/html.rs")), Some(6));
    assert_eq!(layer_of(Path::new("lib.rs")), None);
}
