//! Security behaviours an operator relies on beyond the writer's own tests: `--file-root`
//! confinement of the `file` provider (`..` and symlinks), core dumps disabled in the running
//! process, and no value left behind in the temporary file of a write that was cut short.

use std::io::{Read as _, Seek as _};
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
    let mut watch = crate::support::binary_command()
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

/// Runs `secret-render args…` in the test directory, killed and failed after `timeout`, with its
/// address space capped at 4 GiB so that a regression reading an endless file fails the test
/// instead of exhausting the machine's memory. Returns the exit code and stderr.
fn run_guarded(test: &Test, args: &[&str], timeout: std::time::Duration) -> (i32, String) {
    let (mut stdout, mut stderr) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -v 4194304 && exec \"$0\" \"$@\"", binary()])
        .args(args)
        .current_dir(test.path(""))
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().unwrap())
        .stderr(stderr.try_clone().unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("`secret-render {}` still ran after {timeout:?}", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let read_back = |file: &mut std::fs::File| {
        let mut text = String::new();
        file.seek(std::io::SeekFrom::Start(0)).unwrap();
        file.read_to_string(&mut text).unwrap();
        text
    };
    let (stdout, stderr) = (read_back(&mut stdout), read_back(&mut stderr));
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY), "a run showed the canary:\n{stdout}\n{stderr}");
    (status.code().unwrap_or(-1), stderr)
}

const RENDER: &[&str] = &["render", "prometheus.yml", "--out", "out"];

/// The one secret file a render of `config_reading` wrote into `out`.
fn rendered_secret(out: &std::path::Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(out.join("secrets")).unwrap().map(|entry| entry.unwrap().path()).collect();
    let [file] = files.as_slice() else { panic!("not one secret file: {files:?}") };
    file.clone()
}

/// A FIFO (named directly or through a symlink) would block the open until a writer came, and the
/// render with it: it is refused at once, as an unreadable file is (exit 4).
#[test]
fn a_fifo_is_refused_at_once_instead_of_hanging_the_render() {
    for name in ["fifo", "link-to-fifo"] {
        let test = Test::new().file("prometheus.yml", &config_reading(name));
        let made = Command::new("mkfifo").arg(test.path("fifo")).status().unwrap();
        assert!(made.success(), "mkfifo");
        symlink("fifo", test.path("link-to-fifo")).unwrap();
        let (code, stderr) = run_guarded(&test, RENDER, std::time::Duration::from_secs(20));
        assert_eq!(code, 4, "{name}: {stderr}");
        assert!(stderr.contains(&format!("file {}", test.path(name).display())), "{name}: {stderr}");
        assert!(stderr.contains("is not a regular file (a FIFO)"), "{name}: {stderr}");
    }
}

/// `/dev/zero` never ends: refused as a device before a byte is read.
#[test]
fn an_endless_device_is_refused_as_not_a_regular_file() {
    let test = Test::new().file("prometheus.yml", &config_reading("/dev/zero"));
    let (code, stderr) = run_guarded(&test, RENDER, std::time::Duration::from_secs(20));
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("file /dev/zero: it is not a regular file (a character device)"), "{stderr}");
}

/// Kubernetes caps a Secret at 1 MiB: a file of exactly that renders, one byte more is refused
/// (exit 4) without reading it, and nothing of it is printed.
#[test]
fn a_file_larger_than_1_mib_is_refused() {
    const MIB: usize = 1024 * 1024;
    let test = Test::new()
        .file("prometheus.yml", &config_reading("pw"))
        .file("pw", &"x".repeat(MIB))
        .file("big/prometheus.yml", &config_reading("pw"))
        .file("big/pw", &format!("{CANARY}{}", "x".repeat(MIB + 1 - CANARY.len())));
    let (code, stderr) = run_guarded(&test, RENDER, std::time::Duration::from_secs(60));
    assert_eq!(code, 0, "exactly 1 MiB: {stderr}");
    assert_eq!(std::fs::metadata(rendered_secret(&test.path("out"))).unwrap().len(), MIB as u64);
    let (code, stderr) =
        run_guarded(&test, &["render", "big/prometheus.yml", "--out", "big-out"], std::time::Duration::from_secs(60));
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains(&format!("file {}", test.path("big/pw").display())), "{stderr}");
    assert!(stderr.contains("is larger than 1 MiB, the most a secret may be"), "{stderr}");
    assert!(!test.path("big-out/prometheus.yml").exists());
}

/// Without `--file-root` too, a symlink (as a Kubernetes Secret volume mounts its keys) is followed
/// to the regular file it names.
#[test]
fn a_symlink_to_a_regular_file_is_followed() {
    let test = Test::new().file("..2024/pw", "through-the-link").file("prometheus.yml", &config_reading("pw"));
    symlink("..2024", test.path("..data")).unwrap();
    symlink("..data/pw", test.path("pw")).unwrap();
    test.run_with(RENDER).expect_code(0);
    assert_eq!(crate::support::read(&rendered_secret(&test.path("out"))), "through-the-link");
}

/// A store's credential files are read the same way: a Vault `token_file` that is a FIFO fails
/// the render at once (exit 4, naming the file) instead of hanging it before the first request.
#[test]
fn a_vault_token_file_that_is_a_fifo_is_refused_at_once() {
    let config = format!(
        "secret_stores:\n  v:\n    vault:\n      address: http://127.0.0.1:{}\n      auth: {{token_file: token}}\npw: {{vault: {{path: p, key: k}}}}\n",
        crate::support::free_port()
    );
    let test = Test::new().file("app.yml", &config);
    let made = Command::new("mkfifo").arg(test.path("token")).status().unwrap();
    assert!(made.success(), "mkfifo");
    let args = ["--target", "generic", "render", "app.yml", "--out", "out"];
    let (code, stderr) = run_guarded(&test, &args, std::time::Duration::from_secs(20));
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("is not a regular file (a FIFO)"), "{stderr}");
}

/// A password written into a provider map's Vault `address` is shown as `***` wherever the
/// address is: the unreachable store's error from `render`, and `check`'s listing.
#[test]
fn a_password_in_a_vault_address_is_never_shown() {
    let port = free_port();
    let config = format!(
        "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password:\n        vault: \
         {{path: app, key: pw, address: \"http://admin:{CANARY}@127.0.0.1:{port}\"}}\n"
    );
    let test = Test::new().file("prometheus.yml", &config).env("VAULT_TOKEN", "root-fake");
    test.run_with(&["render", "prometheus.yml", "--out", "out"])
        .expect_code(4)
        .stderr_contains(&format!("http://***@127.0.0.1:{port}"))
        .never_shows(CANARY);
    let check = test.run_with(&["check", "prometheus.yml"]);
    check.never_shows(CANARY);
    assert!(format!("{}{}", check.stdout, check.stderr).contains("***@127.0.0.1"), "{check:?}");
}

/// A password in an address written without a scheme (`user:password@host`, refused for it)
/// is hidden from the error that quotes the address.
#[test]
fn a_password_in_an_address_without_a_scheme_is_never_shown() {
    let config =
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: {vault: {path: app, key: pw}}}\n";
    let test = Test::new()
        .file("prometheus.yml", config)
        .env("VAULT_ADDR", &format!("admin:{CANARY}@127.0.0.1:8200"))
        .env("VAULT_TOKEN", "root-fake");
    test.run_with(&["render", "prometheus.yml", "--out", "out"])
        .expect_code(3)
        .stderr_contains("address \"***@127.0.0.1:8200\" must be http:// or https://")
        .never_shows(CANARY);
    let reload = format!("admin:{CANARY}@127.0.0.1:9090/-/reload?token={CANARY}");
    test.run_with(&["watch", "prometheus.yml", "--out", "out", "--reload-url", &reload])
        .expect_code(2)
        .stderr_contains("***@127.0.0.1:9090/-/reload")
        .never_shows(CANARY);
}

/// A secret written unquoted that starts with `{` is YAML's one-key mapping: the error says to
/// quote it, in every format `check` has, without quoting the key, which is the secret itself.
#[test]
fn an_unquoted_secret_in_braces_is_never_quoted_back() {
    let config = format!("scrape_configs:\n  - job_name: a\n    basic_auth: {{username: u, password: {{{CANARY}}}}}\n");
    let test = Test::new().file("prometheus.yml", &config);
    for format in ["human", "json", "github"] {
        let outcome = test.run_with(&["check", "prometheus.yml", "--format", format]);
        outcome.expect_code(3).never_shows(CANARY);
        assert!(format!("{}{}", outcome.stdout, outcome.stderr).contains("must be quoted"), "{format}: {outcome:?}");
    }
    test.run_with(&["render", "prometheus.yml", "--out", "out"]).expect_code(3).stderr_contains("must be quoted");
}
