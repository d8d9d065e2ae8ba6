//! One active placer per data directory, with real processes: a second
//! `serve` or `once` on the same data directory refuses (exit code 3) or
//! waits, read-only commands need no lock, and a killed holder frees it.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::kit::{default_config, wait_output, Workspace};

const EXIT_LOCKED: i32 = 3;

fn workspace() -> Workspace {
    Workspace::new(&format!(
        "{}\nsimulation:\n  seed: 42\nservice:\n  interval: 0\n",
        default_config()
    ))
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_second_placer_on_the_same_data_dir_refuses_until_the_holder_is_killed() {
    let workspace = workspace();
    let mut server = workspace.serve(&[], &[]);

    let once = workspace.run(&["once"], &[]);
    let message = stderr(&once);
    assert_eq!(once.status.code(), Some(EXIT_LOCKED), "{message}");
    assert!(once.stdout.is_empty(), "no tick ran: {:?}", once.stdout);
    assert!(
        message.contains(&format!(
            "data directory data is in use by another fly-placer (pid {})",
            server.pid()
        )),
        "{message}"
    );
    assert!(message.contains("--wait-for-lock"), "{message}");

    let second = workspace.run(&["serve", "--listen", "127.0.0.1:0"], &[]);
    assert_eq!(
        second.status.code(),
        Some(EXIT_LOCKED),
        "{}",
        stderr(&second)
    );

    // Another data directory is another placer.
    let elsewhere = workspace.run(&["once", "--data-dir", "other"], &[]);
    assert!(elsewhere.status.success(), "{}", stderr(&elsewhere));

    // Read-only commands need no lock.
    let check = workspace.run(&["check-config"], &[]);
    assert!(check.status.success(), "{}", stderr(&check));
    let trace = workspace.run(
        &[
            "gen-trace",
            "--scenario",
            "long-tail",
            "--hours",
            "1",
            "--seed",
            "1",
            "--out",
            "t.csv",
        ],
        &[],
    );
    assert!(trace.status.success(), "{}", stderr(&trace));

    // A crash releases the lock.
    server.kill();
    let once = workspace.run(&["once"], &[]);
    assert!(once.status.success(), "{}", stderr(&once));
}

#[test]
fn with_wait_for_lock_the_second_placer_runs_once_the_first_stops() {
    let workspace = workspace();
    let mut server = workspace.serve(&[], &[]);

    let mut waiting = workspace
        .command(&["once", "--wait-for-lock"], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel();
    let stderr_pipe = waiting.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        for line in BufReader::new(stderr_pipe).lines() {
            let Ok(line) = line else { break };
            let _ = lines.send(line.clone());
            all.push(line);
        }
        all
    });
    loop {
        let line = received
            .recv_timeout(Duration::from_secs(60))
            .expect("the second placer says it waits");
        if line.contains("waiting for it to stop") {
            assert!(line.contains(&format!("(pid {})", server.pid())), "{line}");
            break;
        }
    }
    assert!(
        waiting.try_wait().unwrap().is_none(),
        "the second placer waits while the first runs"
    );

    assert!(server.stop().success());
    let output = wait_output(waiting, Duration::from_secs(60));
    let log = reader.join().unwrap().join("\n");
    assert!(output.status.success(), "{log}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["regions"].is_object(), "{report}");
}
