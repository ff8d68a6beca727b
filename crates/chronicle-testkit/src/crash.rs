//! Crash tests: run one test of the current test binary as a child
//! process, read what it prints, SIGKILL it after a while.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

/// Runs test `test` of this test binary (an `#[ignore]`d child helper,
/// so a plain `cargo test` never counts it as a pass) in a child process
/// with `env` set to `dir`, SIGKILLs it after `after` and returns the lines it printed
/// to stdout before it died.
pub fn run_child_and_kill(test: &str, env: &str, dir: &Path, after: Duration) -> Vec<String> {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args(["--exact", test, "--ignored", "--nocapture", "--test-threads", "1"])
        .env(env, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
    std::thread::sleep(after);
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    reader.join().expect("the reader thread")
}
