//! The man pages and shell completions in `man/` and `completions/` are generated from the clap
//! definition and committed; these tests fail when they are stale. Regenerate them with
//! `SECRET_RENDER_BLESS=1 cargo test --test integration generated`.

use std::path::Path;

use secret_render::commands::generate::{SHELLS, completion, man_pages};

use crate::support::{Test, repo};

fn bless() -> bool {
    std::env::var_os("SECRET_RENDER_BLESS").is_some()
}

/// Compares (or with bless, rewrites) every generated file in `dir` and refuses strays.
fn check_dir(dir: &Path, generated: &[(String, Vec<u8>)]) {
    if bless() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut stale = Vec::new();
    for (name, contents) in generated {
        let path = dir.join(name);
        if bless() {
            std::fs::write(&path, contents).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(contents.as_slice()) {
            stale.push(name.clone());
        }
    }
    let mut strays: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !generated.iter().any(|(generated, _)| generated == name))
        .collect();
    strays.sort();
    assert!(
        stale.is_empty(),
        "stale in {}: {stale:?}; run SECRET_RENDER_BLESS=1 cargo test --test integration generated",
        dir.display()
    );
    assert!(strays.is_empty(), "files in {} that nothing generates: {strays:?}", dir.display());
}

#[test]
fn committed_man_pages_match_the_cli_definition() {
    check_dir(&repo().join("man"), &man_pages().unwrap());
}

#[test]
fn committed_completions_match_the_cli_definition() {
    let generated: Vec<(String, Vec<u8>)> =
        SHELLS.iter().map(|(shell, name)| ((*name).to_owned(), completion(*shell))).collect();
    check_dir(&repo().join("completions"), &generated);
}

#[test]
fn the_binary_prints_the_committed_man_page_and_completions() {
    let outcome = Test::new().args(["man"]).run();
    outcome.expect_code(0);
    assert_eq!(outcome.stdout.as_bytes(), std::fs::read(repo().join("man/secret-render.1")).unwrap());
    let outcome = Test::new().args(["man", "render"]).run();
    outcome.expect_code(0);
    assert_eq!(outcome.stdout.as_bytes(), std::fs::read(repo().join("man/secret-render-render.1")).unwrap());
    // A subcommand's subcommand, named as typed or as its page is: the store page points there.
    let page = std::fs::read(repo().join("man/secret-render-store-get.1")).unwrap();
    for name in ["store get", "store-get"] {
        let outcome = Test::new().args(["man", name]).run();
        outcome.expect_code(0);
        assert_eq!(outcome.stdout.as_bytes(), page, "{name}");
    }
    let outcome = Test::new().args(["completions", "bash"]).run();
    outcome.expect_code(0);
    assert_eq!(outcome.stdout.as_bytes(), std::fs::read(repo().join("completions/secret-render.bash")).unwrap());
}
