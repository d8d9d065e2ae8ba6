//! The Markdown of the repository reads as written: every code fence is
//! closed, and every relative link points at a file that exists and, with
//! an anchor, at a heading of that file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every Markdown file of the repository, build output left out.
fn markdown_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "corpus" {
                    dirs.push(path);
                }
            } else if name.ends_with(".md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Each line with whether it is inside a code block (fence lines count as
/// inside), and the line of a fence that opens a block never closed. As in
/// CommonMark, a block closes only at a fence of the same kind with nothing
/// after it: "```text" inside a block is content.
fn blocks(text: &str) -> (Vec<(usize, &str, bool)>, Option<usize>) {
    let mut open: Option<(usize, &str)> = None;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let marker = ["```", "~~~"]
            .into_iter()
            .find(|marker| trimmed.starts_with(marker));
        match (open, marker) {
            (None, Some(marker)) => {
                open = Some((index + 1, marker));
                lines.push((index + 1, line, true));
            }
            (Some((_, opened)), Some(marker))
                if marker == opened
                    && trimmed
                        .trim_start_matches(marker.chars().next().unwrap_or('`'))
                        .is_empty() =>
            {
                open = None;
                lines.push((index + 1, line, true));
            }
            (open, _) => lines.push((index + 1, line, open.is_some())),
        }
    }
    (lines, open.map(|(line, _)| line))
}

/// The line of a fence that opens a code block never closed, if any.
fn unclosed_fence(text: &str) -> Option<usize> {
    blocks(text).1
}

/// The text outside code blocks and inline code, line by line.
fn prose(text: &str) -> Vec<(usize, String)> {
    blocks(text)
        .0
        .into_iter()
        .filter(|(_, _, in_block)| !in_block)
        .map(|(number, line, _)| {
            let outside_code: String = line
                .split('`')
                .enumerate()
                .filter(|(part, _)| part % 2 == 0)
                .map(|(_, text)| text)
                .collect::<Vec<_>>()
                .join(" ");
            (number, outside_code)
        })
        .collect()
}

/// The targets of `[text](target)` links on a line.
fn link_targets(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        match after.find(')') {
            Some(end) => {
                let target = after[..end].split_whitespace().next().unwrap_or("");
                targets.push(target.to_owned());
                rest = &after[end..];
            }
            None => break,
        }
    }
    targets
}

/// GitHub's anchor of a heading: lowercase, punctuation dropped, spaces
/// as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (a repeated heading's with
/// `-1`, `-2` … as GitHub numbers them).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    for (_, line, in_block) in blocks(text).0 {
        if in_block || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').replace('`', "");
        let base = slug(&heading);
        let mut anchor = base.clone();
        let mut n = 0;
        while anchors.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        anchors.insert(anchor);
    }
    anchors
}

/// What is wrong with the links of `file` (its text `text`).
fn broken_links(file: &Path, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let dir = file.parent().unwrap();
    for (line, content) in prose(text) {
        for target in link_targets(&content) {
            if target.is_empty()
                || target.contains("://")
                || target.starts_with("mailto:")
                || target.starts_with('<')
            {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.to_path_buf()
            } else {
                dir.join(path)
            };
            let at = format!(
                "{}:{line}",
                file.strip_prefix(root()).unwrap_or(file).display()
            );
            if !linked.exists() {
                problems.push(format!("{at}: {target}: no such file"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if linked.extension().is_some_and(|ext| ext == "md") {
                let linked_text = std::fs::read_to_string(&linked).unwrap();
                if !anchors(&linked_text).contains(anchor) {
                    problems.push(format!("{at}: {target}: no such heading"));
                }
            }
        }
    }
    problems
}

#[test]
fn every_code_fence_is_closed_and_every_relative_link_resolves() {
    let files = markdown_files();
    assert!(files.len() >= 10, "{files:?}");
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        if let Some(line) = unclosed_fence(&text) {
            problems.push(format!(
                "{}:{line}: a code fence opened here is never closed",
                file.strip_prefix(root()).unwrap_or(file).display()
            ));
        }
        problems.extend(broken_links(file, &text));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checks_catch_what_they_look_for() {
    assert_eq!(
        unclosed_fence("a\n```bash\nx\n```\ntext\n```\nopen\n"),
        Some(6)
    );
    assert_eq!(unclosed_fence("```\n~~~\n```\n"), None);
    // A fence with text after it does not close a block.
    assert_eq!(unclosed_fence("```bash\nx\n```text\nmore\n"), Some(1));
    assert_eq!(
        slug("`apps:` — several apps from one placer"),
        "apps--several-apps-from-one-placer"
    );
    assert_eq!(slug("GET /health"), "get-health");
    let here = root().join("docs/configuration.md");
    let text = "See [flags](#flags), [gone](#nowhere), [file](missing.md), `[x](not-a-link)`.\n\n## Flags\n";
    let problems = broken_links(&here, text);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].ends_with("#nowhere: no such heading"),
        "{problems:?}"
    );
    assert!(
        problems[1].ends_with("missing.md: no such file"),
        "{problems:?}"
    );
}
