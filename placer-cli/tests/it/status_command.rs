//! `fly-placer status` against a running `serve` of simulated apps: the
//! table of apps (one line an app, under a header), one app's regions, the
//! document as JSON, and a clear error when nothing answers.

use crate::kit::{default_config, free_port, get_json, Server, Workspace};

const APPS: usize = 5;

fn serve_apps() -> (Workspace, Server) {
    let config = format!(
        "{}\nservice:\n  interval: 0\nsimulation:\n  seed: 42\n  apps: {APPS}\n",
        default_config()
    );
    let workspace = Workspace::new(&config);
    let server = workspace.serve(&[], &[]);
    for _ in 0..3 {
        let response = crate::kit::client()
            .post(server.url("/trigger"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    (workspace, server)
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Where each column of a table's header starts, in characters.
fn column_starts(header: &str) -> Vec<usize> {
    let chars: Vec<char> = header.chars().collect();
    (0..chars.len())
        .filter(|&at| chars[at] != ' ' && (at == 0 || (at >= 3 && chars[at - 3..at] == [' '; 3])))
        .collect()
}

/// The table with its volatile cells (ages, round trips) replaced, one
/// cell from the next by ` | `.
fn redacted(table: &str) -> String {
    let lines: Vec<&str> = table.lines().collect();
    let starts = column_starts(lines[0]);
    let header: Vec<String> = cells(lines[0], &starts);
    lines
        .iter()
        .map(|line| {
            cells(line, &starts)
                .into_iter()
                .zip(&header)
                .map(|(cell, head)| match head.as_str() {
                    "AGE" | "LAST TICK" if cell != "-" && cell != *head => "<age>".to_owned(),
                    "RTT" if cell != "-" && cell != *head => "<ms>".to_owned(),
                    _ => cell,
                })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A line's cells, cut where the header's columns start.
fn cells(line: &str, starts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    starts
        .iter()
        .enumerate()
        .map(|(index, &start)| {
            let end = starts.get(index + 1).copied().unwrap_or(chars.len());
            let cell: String = chars[start.min(chars.len())..end.min(chars.len())]
                .iter()
                .collect();
            // A cell never runs into the next column.
            if index + 1 < starts.len() {
                assert!(cell.ends_with("   ") || cell.trim().is_empty(), "{line:?}");
            }
            cell.trim().to_owned()
        })
        .collect()
}

#[test]
fn status_prints_one_line_an_app_under_a_header() {
    let (_workspace, mut server) = serve_apps();
    // The address from the config file's service.listen, as an operator's
    // own config would give it.
    let address = server.base.trim_start_matches("http://").to_owned();
    let elsewhere = Workspace::new(&format!("service:\n  listen: {address}\n"));
    let output = elsewhere.run(&["status"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 1 + APPS, "{table}");
    assert!(lines[0].starts_with("APP "), "{table}");
    for (line, n) in lines[1..].iter().zip(1..) {
        assert!(line.starts_with(&format!("sim-{n} ")), "{table}");
        assert!(
            line.contains(" ok ") && line.contains(" dry-run "),
            "{line}"
        );
    }
    let fleet = get_json(&server.url("/api/fleet"));
    let starts = column_starts(lines[0]);
    let header = cells(lines[0], &starts);
    let column = |name: &str| header.iter().position(|head| head == name).unwrap();
    for (line, app) in lines[1..].iter().zip(fleet["apps"].as_array().unwrap()) {
        let row = cells(line, &starts);
        let codes: Vec<&str> = app["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(row[column("REGIONS")], codes.len().to_string(), "{line}");
        assert_eq!(row[column("DEPLOYED")], codes.join(","), "{line}");
        assert_eq!(row[column("ROLE")], "leader", "{line}");
        assert_eq!(row[column("FORECAST")], "unused", "{line}");
    }
    insta::assert_snapshot!("status_table", redacted(&table));

    // --listen (here: PLACER_LISTEN) wins over the file; --url over both.
    let output = elsewhere.run(&["status"], &[("PLACER_LISTEN", "127.0.0.1:1")]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let output = elsewhere.run(
        &["status", "--url", &server.base],
        &[("PLACER_LISTEN", "127.0.0.1:1")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 1 + APPS);
    assert!(server.stop().success());
}

#[test]
fn status_app_prints_its_regions_and_json_prints_the_document() {
    let (workspace, mut server) = serve_apps();
    let url = server.base.clone();
    let output = workspace.run(&["status", "--url", &url, "--app", "sim-2"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("REGION "), "{table}");
    let page = get_json(&server.url("/api/status?app=sim-2"));
    let regions = page["regions"].as_array().unwrap();
    assert_eq!(lines.len(), 1 + regions.len(), "{table}");
    for region in regions {
        let code = region["code"].as_str().unwrap();
        let line = lines
            .iter()
            .find(|line| line.starts_with(&format!("{code} ")))
            .unwrap_or_else(|| panic!("{code} in {table}"));
        let deployed = if region["deployed"] == true {
            "yes"
        } else {
            "no"
        };
        assert!(line.contains(&format!(" {deployed} ")), "{line}");
        if let Some(reason) = region["reason"].as_str() {
            assert!(line.ends_with(reason), "{line}");
        }
    }
    // Busiest first.
    let requests: Vec<f64> = lines[1..]
        .iter()
        .map(|line| {
            line.split_whitespace()
                .find_map(|cell| cell.parse().ok())
                .unwrap()
        })
        .collect();
    assert!(
        requests.windows(2).all(|pair| pair[0] >= pair[1]),
        "{table}"
    );

    let output = workspace.run(&["status", "--url", &url, "--json"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let names: Vec<&str> = document["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["app"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sim-1", "sim-2", "sim-3", "sim-4", "sim-5"]);
    let output = workspace.run(&["status", "--url", &url, "--app", "sim-2", "--json"], &[]);
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["app"], "sim-2");

    let output = workspace.run(&["status", "--url", &url, "--app", "nope"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("HTTP 404 Not Found: no app named \"nope\""),
        "{}",
        stderr(&output)
    );
    assert!(server.stop().success());
}

#[test]
fn status_says_clearly_when_nothing_answers_and_never_shows_secrets() {
    let workspace = Workspace::new(&default_config());
    let port = free_port();
    let output = workspace.run(
        &[
            "status",
            "--url",
            &format!("http://user:pa55word@127.0.0.1:{port}"),
        ],
        &[("PLACER_TRIGGER_TOKEN", "s3cret-token")],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with(&format!(
            "error: nothing answers at http://127.0.0.1:{port} ("
        )),
        "{message}"
    );
    assert!(
        message.contains("is `fly-placer serve` running there?"),
        "{message}"
    );
    assert!(
        !message.contains("pa55word") && !message.contains("s3cret"),
        "{message}"
    );
    assert!(stdout(&output).is_empty());

    // Flags it does nothing with are refused.
    let output = workspace.run(&["status", "--data-dir", "d"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let output = workspace.run(&["status", "--url", "not a url"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

/// Answers one request with `body` and hands back the request's head.
fn answer_once(body: &'static str) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).unwrap();
        String::from_utf8(head).unwrap()
    });
    (url, handle)
}

#[test]
fn status_sends_the_trigger_token_as_a_bearer_token() {
    let (url, request) = answer_once(
        r#"{"version":"0.1.0","now":"2026-05-01T12:00:00Z","interval_seconds":60.0,"next_tick_at":null,"role":"follower","leader":"placer-b","apps":[]}"#,
    );
    let workspace = Workspace::new(&default_config());
    let output = workspace.run(
        &["status", "--url", &url],
        &[("PLACER_TRIGGER_TOKEN", "s3cret-token")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let head = request.join().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /api/fleet http/1.1\r\n"), "{head}");
    assert!(
        head.contains("\r\nauthorization: bearer s3cret-token\r\n"),
        "{head}"
    );
    // No app: the header alone.
    assert_eq!(stdout(&output).lines().count(), 1);
    assert!(stdout(&output).starts_with("APP "));
}
