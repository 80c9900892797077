//! Security behaviours an operator relies on beyond the writer's own tests: `--file-root`
//! confinement of the `file` provider (`..` and symlinks), core dumps disabled in the running
//! process, and no value left behind in the temporary file of a write that was cut short.

use std::os::unix::fs::symlink;
use std::process::{Command, Stdio};

use crate::support::{CANARY, Test, WatchProcess, binary, free_port, http};

const CONFIG: &str =
    "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: {file: {path: PATH}}}\n";

fn config_reading(path: &str) -> String {
    CONFIG.replace("PATH", path)
}

#[test]
fn file_root_refuses_a_path_that_climbs_out_with_dot_dot() {
    let test = Test::new()
        .file("outside/secret", CANARY)
        .file("root/etc/prometheus.yml", &config_reading("../../outside/secret"))
        .file("root/etc/inside", "fine");
    let root = test.path("root");
    test.args(["render", "root/etc/prometheus.yml", "--out", "out", "--file-root"])
        .arg_path(&root)
        .run()
        .expect_code(4)
        .stderr_contains("resolves outside every --file-root")
        .never_shows(CANARY);
}

#[test]
fn file_root_refuses_a_symlink_that_points_out() {
    let test = Test::new().file("outside/secret", CANARY).file("root/prometheus.yml", &config_reading("link"));
    symlink(test.path("outside/secret"), test.path("root/link")).unwrap();
    let root = test.path("root");
    test.args(["--file-root"])
        .arg_path(&root)
        .args(["render", "root/prometheus.yml", "--out", "out"])
        .run()
        .expect_code(4);
}

#[test]
fn file_root_allows_files_under_it_including_kubernetes_style_symlinks() {
    let test = Test::new().file("root/..2024/pw", "fine").file("root/prometheus.yml", &config_reading("pw"));
    symlink("..2024", test.path("root/..data")).unwrap();
    symlink("..data/pw", test.path("root/pw")).unwrap();
    let root = test.path("root");
    test.args(["--file-root"])
        .arg_path(&root)
        .args(["render", "root/prometheus.yml", "--out", "out"])
        .run()
        .expect_code(0);
}

#[test]
fn the_running_process_cannot_dump_core() {
    let test = Test::new().file("prometheus.yml", &config_reading("pw")).file("pw", CANARY);
    let admin = free_port();
    let mut watch = Command::new(binary())
        .args(["watch", "prometheus.yml", "--out", "out", "--listen", &format!("127.0.0.1:{admin}")])
        .current_dir(test.path(""))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Ready once the admin listener answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", admin)).is_err() {
        assert!(std::time::Instant::now() < deadline, "watch never listened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", watch.id())).unwrap();
    let core = limits.lines().find(|line| line.starts_with("Max core file size")).unwrap();
    assert_eq!(core.split_whitespace().nth(4), Some("0"), "soft core limit: {core}");
    let (status, _) = http("GET", admin, "/-/healthy");
    assert_eq!(status, 200);
    watch.kill().unwrap();
    watch.wait().unwrap();
}

/// A writer killed between creating a temporary file and renaming it leaves the file, holding a
/// value, in the out dir. The next writer to find the out dir unused by any other removes it;
/// while a `watch` holds the out dir, whose own writes could be in flight, nothing is removed.
#[test]
fn a_temporary_file_left_by_an_interrupted_write_is_removed_once_no_writer_could_own_it() {
    let test = Test::new().file("prometheus.yml", &config_reading("pw")).file("pw", "fine");
    let render = ["render", "prometheus.yml", "--out", "out"];
    test.run_with(&render).expect_code(0);
    let watch = WatchProcess::sidecar(&test, &["prometheus.yml", "--out", "out"]);
    let leftover = test.path("out/secrets/.a.basic_auth.password-0000.tmp-0123456789abcdef");
    std::fs::write(&leftover, CANARY).unwrap();

    test.run_with(&render).expect_code(0).never_shows(CANARY);
    assert!(leftover.exists(), "removed while `watch` had the out dir open");

    drop(watch);
    test.run_with(&render)
        .expect_code(0)
        .stderr_contains("removed a temporary file left by an interrupted write")
        .never_shows(CANARY);
    assert!(!leftover.exists(), "still there after the last writer ended");
}
