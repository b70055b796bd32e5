//! Helpers shared by the CLI tests: the binary as a user runs it, the repository, the datasets.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
}

pub fn data(file: &str) -> PathBuf {
    let dir = std::env::var("PRICELET_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo("../shared/data"));
    let path = dir.join(file);
    assert!(
        path.exists(),
        "{} is missing: the tests read the real datasets from ../shared/data (see README 'Data')",
        path.display()
    );
    path
}

pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pricelet"))
        .args(args)
        .current_dir(repo(""))
        .output()
        .unwrap()
}

pub fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

pub fn tmp(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pricelet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

pub const NOW: &str = "1795950160000";

pub fn json_file(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(repo(path)).unwrap()).unwrap()
}
