//! The commands the documentation shows are the commands that run: every
//! ```` ```console ```` block of README.md and docs/ is executed with the
//! built `fly-placer`, and what each command prints is compared with what
//! the block shows under it.
//!
//! The rules a block is written by:
//! - `$ ` starts a command; a line ending in `\` goes on on the next line.
//!   `VAR=value` words before the program set its environment, `> FILE`
//!   sends its standard output to a file.
//! - The lines up to the next `$ ` are its output: standard error first,
//!   then standard output (the order both appear in when a person runs
//!   it). A command with no lines under it must print nothing.
//! - A command must succeed, unless its last shown line is
//!   `[exit code N]`: then it must exit with N.
//! - `[..]` in an output line stands for any text on that line, and a line
//!   of only `...` for any number of lines.
//! - Volatile parts are the same on both sides before comparing: times
//!   (`2026-12-07T19:27:22.817810Z`), the simulation's drawn seed and the
//!   port a service listens on.
//! - `fly-placer` is the built binary; `cargo run --release [-- ARGS]` runs
//!   it the same way. A service (`serve`, or no command) is stopped once it
//!   has printed as many lines as the block shows.
//! - A block whose first line is `# not run by the tests: WHY` is only
//!   shown (it needs a Fly app, a container runtime, or is the test command
//!   itself). Shell examples are `console` blocks, so none escapes this.
//!
//! The commands of one file run one after the other in one scratch
//! directory holding a copy of the repository's `config/` and
//! `docs/examples/`, as if run from the repository's root.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::kit::BINARY;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md and every Markdown file of docs/.
fn documents() -> Vec<PathBuf> {
    let mut found = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    found.extend(docs);
    found
}

/// One command of a block with the output the block shows for it.
#[derive(Debug, Clone)]
struct Example {
    /// The line of the `$ `.
    line: usize,
    command: String,
    /// The shown output, each line with its line number.
    output: Vec<(usize, String)>,
}

/// A fenced block of a document.
#[derive(Debug)]
struct Block {
    /// The line of its opening fence.
    line: usize,
    info: String,
    /// `Some(why)` for a block marked as not run.
    not_run: Option<String>,
    examples: Vec<Example>,
}

const NOT_RUN: &str = "# not run by the tests:";

/// The fenced blocks of `text`, with the console blocks' commands.
fn blocks(text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    // The opening fence's line, info string, indentation and the lines so far.
    type Open = (usize, String, usize, Vec<(usize, String)>);
    let mut open: Option<Open> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let indent = line.len() - trimmed.len();
                    open = Some((number, info.trim().to_string(), indent, Vec::new()));
                }
            }
            Some((start, info, indent, lines)) => {
                if trimmed.trim_end() == "```" {
                    found.push(parse_block(*start, info, lines));
                    open = None;
                } else {
                    // A block inside a list item is indented like its fence.
                    let blank = line.len() - trimmed.len();
                    let content = &line[blank.min(*indent)..];
                    lines.push((number, content.trim_end().to_string()));
                }
            }
        }
    }
    found
}

fn parse_block(line: usize, info: &str, lines: &[(usize, String)]) -> Block {
    let not_run = lines
        .first()
        .and_then(|(_, first)| first.strip_prefix(NOT_RUN))
        .map(|why| why.trim().to_string());
    let mut examples: Vec<Example> = Vec::new();
    let mut continuing = false;
    for (number, text) in lines {
        if continuing {
            let example = examples.last_mut().unwrap();
            let part = text.trim();
            continuing = part.ends_with('\\');
            example.command.push(' ');
            example
                .command
                .push_str(part.trim_end_matches('\\').trim_end());
        } else if let Some(command) = text.strip_prefix("$ ") {
            continuing = command.ends_with('\\');
            examples.push(Example {
                line: *number,
                command: command.trim_end_matches('\\').trim_end().to_string(),
                output: Vec::new(),
            });
        } else if let Some(example) = examples.last_mut() {
            example.output.push((*number, text.clone()));
        }
    }
    Block {
        line,
        info: info.split_whitespace().next().unwrap_or("").to_string(),
        not_run,
        examples,
    }
}

/// `command` split into words as a POSIX shell would for the plain cases
/// the docs use: blanks separate words, single and double quotes group.
fn words(command: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some(other) => word.push(other),
                        None => return Err(format!("unclosed {c} in `{command}`")),
                    }
                }
            }
            '#' if !in_word => break,
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// What one command prints: standard error, then standard output.
struct Printed {
    lines: Vec<String>,
    /// Its exit code; 0 for a service still running when stopped.
    code: Option<i32>,
}

/// The exit code a shown output asks for (its last line
/// `[exit code N]`, else 0) and the output without that line.
fn expected_code(shown: &[(usize, String)]) -> (i32, &[(usize, String)]) {
    if let Some(((_, last), rest)) = shown.split_last() {
        let code = last
            .strip_prefix("[exit code ")
            .and_then(|rest| rest.strip_suffix(']'))
            .and_then(|code| code.parse().ok());
        if let Some(code) = code {
            return (code, rest);
        }
    }
    (0, shown)
}

/// A scratch directory laid out like the repository's root.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for shared in ["config", "docs/examples"] {
        copy_dir(&root().join(shared), &dir.path().join(shared));
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    if !from.is_dir() {
        return;
    }
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Runs `example` in `dir`.
fn run(example: &Example, dir: &Path) -> Result<Printed, String> {
    let mut words = words(&example.command)?;
    let mut env = Vec::new();
    while let Some((name, value)) = words.first().and_then(|word| word.split_once('=')) {
        if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
            break;
        }
        env.push((name.to_string(), value.to_string()));
        words.remove(0);
    }
    let mut redirect = None;
    if let Some(at) = words.iter().position(|word| word == ">") {
        redirect = Some(words.get(at + 1).ok_or("`>` names no file")?.clone());
        words.truncate(at);
    }
    let args: Vec<String> = match words.first().map(String::as_str) {
        Some("fly-placer") => words[1..].to_vec(),
        Some("cargo") if words.get(1..3) == Some(&["run".into(), "--release".into()]) => {
            match words.get(3).map(String::as_str) {
                None => Vec::new(),
                Some("--") => words[4..].to_vec(),
                Some(other) => return Err(format!("cannot run `cargo run --release {other}`")),
            }
        }
        Some(other) => {
            return Err(format!(
                "cannot run `{other}` here: run `fly-placer`, or mark the block `{NOT_RUN} why`"
            ))
        }
        None => return Err("an empty command".into()),
    };
    let mut command = Command::new(BINARY);
    command.args(&args).current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("PLACER_") || name.starts_with("FLY_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let service = args
        .iter()
        .find(|arg| !arg.starts_with('-'))
        .is_none_or(|first| first == "serve");
    if service {
        command.env("PLACER_LISTEN", "127.0.0.1:0");
    }
    for (name, value) in &env {
        command.env(name, value);
    }
    if service {
        let shown = example
            .output
            .iter()
            .filter(|(_, line)| line != "...")
            .count();
        return Ok(run_service(command, shown));
    }
    let output = command.output().map_err(|error| error.to_string())?;
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_string)
        .collect();
    match redirect {
        Some(file) => std::fs::write(dir.join(file), &output.stdout).unwrap(),
        None => lines.extend(
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(str::to_string),
        ),
    }
    Ok(Printed {
        lines,
        code: output.status.code(),
    })
}

/// Starts a service and reads its first `count` lines of standard error
/// (or what it printed within a minute), then stops it.
fn run_service(mut command: Command, count: usize) -> Printed {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if sender.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.len() < count {
        match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    Printed {
        lines,
        code: running.then_some(0),
    }
}

/// `line` with its volatile parts made the same whatever they were.
fn normalized(line: &str) -> String {
    let patterns = [
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z",
            "2000-01-01T00:00:00Z",
        ),
        (r"seed \d+ \(drawn at start", "seed 1 (drawn at start"),
        (r"(127\.0\.0\.1|localhost):\d+", "127.0.0.1:8000"),
    ];
    let mut line = line.trim_end().to_string();
    for (pattern, with) in patterns {
        line = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&line, with)
            .into_owned();
    }
    line
}

/// Whether `actual` is what the shown `expected` line allows.
fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split("[..]").collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    if !rest.ends_with(last) {
        return false;
    }
    rest = &rest[..rest.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether the printed lines are what the shown ones allow (`...` lines
/// stand for any number of lines).
fn output_matches(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| output_matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => {
            !actual.is_empty()
                && line_matches(first, &actual[0])
                && output_matches(rest, &actual[1..])
        }
    }
}

/// Where `text` (the document at `name`) and what its commands print part,
/// each problem naming the file and line; `until` stops after the block
/// opening at that line. The number of commands run comes with them.
fn check(name: &str, text: &str, until: Option<usize>) -> (Vec<String>, usize) {
    let dir = scratch();
    let mut problems = Vec::new();
    let mut ran = 0;
    for block in blocks(text) {
        if until.is_some_and(|last| block.line > last) {
            break;
        }
        if ["bash", "sh", "shell", "zsh"].contains(&block.info.as_str()) {
            problems.push(format!(
                "{name}:{}: a shell example is a ```console block (`$ ` before each command)",
                block.line
            ));
            continue;
        }
        if block.info != "console" {
            continue;
        }
        match &block.not_run {
            Some(why) if why.is_empty() => {
                problems.push(format!("{name}:{}: `{NOT_RUN}` says why", block.line))
            }
            Some(_) => continue,
            None if block.examples.is_empty() => problems.push(format!(
                "{name}:{}: a console block without a `$ ` command",
                block.line
            )),
            None => {}
        }
        for example in &block.examples {
            ran += 1;
            let printed = match run(example, dir.path()) {
                Ok(printed) => printed,
                Err(error) => {
                    problems.push(format!("{name}:{}: {error}", example.line));
                    continue;
                }
            };
            let actual: Vec<String> = printed.lines.iter().map(|l| normalized(l)).collect();
            let (code, shown) = expected_code(&example.output);
            let expected: Vec<String> = shown.iter().map(|(_, line)| normalized(line)).collect();
            if printed.code != Some(code) {
                let how = printed
                    .code
                    .map_or("was stopped by a signal".to_string(), |code| {
                        format!("exited with {code}")
                    });
                problems.push(format!(
                    "{name}:{}: `{}` {how}, not {code}; it printed:\n{}",
                    example.line,
                    example.command,
                    printed.lines.join("\n")
                ));
            } else if !output_matches(&expected, &actual) {
                let at = first_difference(shown, &actual);
                problems.push(format!(
                    "{name}:{at}: `{}` prints something else than shown; it printed:\n{}",
                    example.command,
                    printed.lines.join("\n")
                ));
            }
        }
    }
    (problems, ran)
}

/// The line of the first shown output line that the printed ones do not
/// match, going line by line (the command's line when all match).
fn first_difference(shown: &[(usize, String)], actual: &[String]) -> usize {
    let mut printed = actual.iter();
    for (line, text) in shown {
        if text == "..." {
            return *line;
        }
        match printed.next() {
            Some(actual) if line_matches(&normalized(text), actual) => {}
            _ => return *line,
        }
    }
    shown.last().map_or(0, |(line, _)| line + 1)
}

#[test]
fn every_documented_command_prints_what_the_docs_show() {
    let mut problems = Vec::new();
    let mut ran = 0;
    for path in documents() {
        let name = path.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let (found, count) = check(&name, &text, None);
        problems.extend(found);
        ran += count;
    }
    assert!(ran >= 10, "only {ran} documented commands ran");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn a_drifted_line_of_a_doc_fails_naming_its_file_and_line() {
    let path = root().join("docs/backtesting.md");
    let text = std::fs::read_to_string(&path).unwrap();
    // The first shown output line of a run block, changed.
    let (block, line) = blocks(&text)
        .into_iter()
        .filter(|block| block.info == "console" && block.not_run.is_none())
        .find_map(|block| {
            let line = block
                .examples
                .iter()
                .flat_map(|example| example.output.iter())
                .find(|(_, shown)| shown != "..." && !shown.contains("[..]"))
                .map(|(line, _)| *line)?;
            Some((block.line, line))
        })
        .expect("docs/backtesting.md shows a command's output");
    let drifted: String = text
        .lines()
        .enumerate()
        .map(|(index, shown)| {
            if index + 1 == line {
                format!("{shown} (drifted)\n")
            } else {
                format!("{shown}\n")
            }
        })
        .collect();
    let (unchanged, _) = check("docs/backtesting.md", &text, Some(block));
    assert!(unchanged.is_empty(), "{}", unchanged.join("\n"));
    let (problems, _) = check("docs/backtesting.md", &drifted, Some(block));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!("docs/backtesting.md:{line}: ")),
        "{}",
        problems[0]
    );
}

#[test]
fn output_patterns_match_as_documented() {
    let lines = |text: &str| -> Vec<String> { text.lines().map(str::to_string).collect() };
    assert!(line_matches("wrote [..] ticks", "wrote 1440 ticks"));
    assert!(line_matches("a[..]b[..]c", "a-b-c"));
    assert!(!line_matches("a[..]b[..]c", "a-c-b"));
    assert!(!line_matches("wrote 1 tick", "wrote 1 ticks"));
    assert!(output_matches(&lines("a\n...\nd"), &lines("a\nb\nc\nd")));
    assert!(output_matches(&lines("a\n...\nd"), &lines("a\nd")));
    assert!(!output_matches(&lines("a\n...\nd"), &lines("a\nb")));
    assert!(!output_matches(&lines(""), &lines("something")));
    assert_eq!(
        normalized("2026-12-07T19:27:22.817810Z  INFO on http://127.0.0.1:40257 seed 692639 (drawn at start"),
        "2000-01-01T00:00:00Z  INFO on http://127.0.0.1:8000 seed 1 (drawn at start"
    );
    assert_eq!(
        words(r#"FOO=1 fly-placer "a b" 'c' d # note"#).unwrap(),
        ["FOO=1", "fly-placer", "a b", "c", "d"]
    );
    let parsed = blocks("```console\n$ fly-placer a \\\n    --b c\nout\n$ fly-placer d\n```\n");
    assert_eq!(parsed[0].examples.len(), 2);
    assert_eq!(parsed[0].examples[0].command, "fly-placer a --b c");
    assert_eq!(parsed[0].examples[0].output, [(4, "out".to_string())]);
    assert!(parsed[0].examples[1].output.is_empty());
    let shown = [
        (1, "error: x".to_string()),
        (2, "[exit code 2]".to_string()),
    ];
    assert_eq!(expected_code(&shown), (2, &shown[..1]));
    assert_eq!(expected_code(&shown[..1]), (0, &shown[..1]));
}
