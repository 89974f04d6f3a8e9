//! The Debian package on this machine, as an admin installs it: `scripts/package` builds
//! the .deb, lintian finds no error in it, `dpkg -i` installs it, the installed unit passes
//! `systemd-analyze verify` with its exposure still at most 2.0, the user, group, conffile,
//! state directory, man pages and completions are there, and the installed binary runs as
//! the `postdesk` user on the installed config. A member of the group `postdesk` (not the
//! owner) reads the database with `postdesk tickets`, also while a daemon writes it; someone
//! outside the group cannot; `db vacuum` refuses while the daemon runs. Then `dpkg --purge`
//! removes it, and the test removes the users and folders it made.
//!
//! Needs root (CI runs as root) and Debian's tools; installs dpkg, systemd (for
//! systemd-analyze) and lintian through apt-get when they are missing. The release build
//! inside `scripts/package` is the long part (it reuses the target folder).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const READER: &str = "pdtest-reader";
const OUTSIDER: &str = "pdtest-outsider";
const STATE: &str = "/var/lib/postdesk";
/// Left in the state directory by this test: what it finds there at its start, it made.
const MARKER: &str = "/var/lib/postdesk/.made-by-tests-package";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir("/")
        .env_remove("POSTDESK_CONFIG")
        .env_remove("POSTDESK_DB")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `postdesk ARGS` as `user`, as `runuser` starts it: the user's own uid and groups.
fn postdesk_as(user: &str, args: &[&str]) -> Output {
    let mut all = vec!["-u", user, "--", "/usr/bin/postdesk"];
    all.extend_from_slice(args);
    run("runuser", &all)
}

fn is_root() -> bool {
    text(&run("id", &["-u"]).stdout).trim() == "0"
}

/// Installs the Debian packages that provide `tools` when one is missing.
fn ensure_tools() {
    let wanted = [
        ("dpkg", "dpkg"),
        ("systemd-analyze", "systemd"),
        ("lintian", "lintian"),
        ("runuser", "util-linux"),
        ("adduser", "adduser"),
        ("file", "file"),
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(tool, _)| {
            !run("sh", &["-c", &format!("command -v {tool}")])
                .status
                .success()
        })
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return;
    }
    eprintln!("package test: installing {missing:?}");
    let apt = |args: &[&str]| {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .expect("tests/package.rs needs apt-get to install dpkg, systemd and lintian");
        assert!(status.success(), "apt-get {args:?} failed");
    };
    apt(&["update", "-q"]);
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(missing);
    apt(&install);
}

/// Removes what the test (or an earlier, interrupted run of it) installed and made; a
/// state directory that it did not make is never touched.
fn clean_up() {
    if run("dpkg", &["-s", "postdesk"]).status.success() {
        ok("dpkg", &["--purge", "postdesk"]);
    }
    for user in [READER, OUTSIDER] {
        let _ = run("userdel", &[user]);
    }
    if Path::new(MARKER).exists() {
        std::fs::remove_dir_all(STATE).unwrap();
        let _ = std::fs::remove_dir("/etc/postdesk/credentials");
        let _ = std::fs::remove_dir("/etc/postdesk");
        let _ = run("deluser", &["--system", "--quiet", "postdesk"]);
        let _ = run("delgroup", &["--system", "--quiet", "postdesk"]);
    }
}

/// Cleans up however the test ends, and stops the daemon it started.
struct Installed {
    daemon: Option<Child>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        clean_up();
    }
}

fn build_package() -> PathBuf {
    let mut command = Command::new(repo().join("scripts/package"));
    // Only what a shell would pass: the variables cargo sets for a test (CARGO_PKG_NAME,
    // OUT_DIR, ...) would look like a changed environment to build scripts that watch
    // them (ring's), and rebuild what a build from a shell has built.
    command.env_clear();
    for (name, value) in std::env::vars_os() {
        let keep = matches!(
            name.to_str(),
            Some(
                "PATH"
                    | "HOME"
                    | "USER"
                    | "LANG"
                    | "LC_ALL"
                    | "TERM"
                    | "TMPDIR"
                    | "CARGO_HOME"
                    | "RUSTUP_HOME"
                    | "RUSTUP_AUTO_INSTALL"
                    | "CARGO_TARGET_DIR"
                    | "CARGO_BUILD_JOBS"
                    | "CI"
            )
        );
        if keep {
            command.env(name, value);
        }
    }
    let out = command
        .current_dir(repo())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "scripts/package failed");
    let stdout = text(&out.stdout);
    let deb = PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("scripts/package printed no path"),
    );
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("postdesk_{}-1_", env!("CARGO_PKG_VERSION")))
            && name.ends_with(".deb"),
        "{name}"
    );
    assert!(
        deb.parent().unwrap().ends_with("debian"),
        "{}",
        deb.display()
    );
    deb
}

fn lintian_has_no_error(deb: &Path) {
    let out = run(
        "lintian",
        &["--tag-display-limit", "0", deb.to_str().unwrap()],
    );
    let report = text(&out.stdout);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{report}");
}

fn the_unit_verifies_with_its_hardening() {
    let unit = "/usr/lib/systemd/system/postdesk.service";
    let text_of_unit = std::fs::read_to_string(unit).unwrap();
    for line in [
        "ExecStart=/usr/bin/postdesk --config /etc/postdesk/postdesk.toml run",
        "User=postdesk",
        "Group=postdesk",
        "StateDirectoryMode=0750",
        "UMask=0027",
    ] {
        assert!(text_of_unit.lines().any(|l| l == line), "{line} missing");
    }
    assert!(!text_of_unit.contains("DynamicUser=yes"));
    // The man page of Documentation= is installed too: verify looks for it when man is
    // there, so it is checked as a file instead.
    let out = run("systemd-analyze", &["verify", "--man=no", unit]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
    let out = run(
        "systemd-analyze",
        &["security", "--offline=true", "--no-pager", unit],
    );
    let report = text(&out.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for postdesk.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score:\n{report}{}", text(&out.stderr)));
    assert!(score <= 2.0, "exposure {score} above 2.0:\n{report}");
}

fn the_files_and_the_user_are_there() {
    let passwd = ok("getent", &["passwd", "postdesk"]);
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "not a system user: {passwd}");
    assert_eq!(fields[5], STATE, "{passwd}");
    assert!(fields[6].ends_with("nologin"), "{passwd}");
    let group = ok("getent", &["group", "postdesk"]);
    let gid: u32 = group.split(':').nth(2).unwrap().parse().unwrap();
    assert_eq!(fields[3], gid.to_string(), "primary group: {passwd}");

    let conffiles = ok("dpkg-query", &["-W", "-f=${Conffiles}", "postdesk"]);
    assert!(
        conffiles.contains("/etc/postdesk/postdesk.toml"),
        "{conffiles}"
    );
    let config = std::fs::read_to_string("/etc/postdesk/postdesk.toml").unwrap();
    assert!(config.contains("database = \"/var/lib/postdesk/postdesk.db\""));

    let state = std::fs::metadata(STATE).unwrap();
    assert_eq!((state.uid(), state.gid()), (uid, gid));
    assert_eq!(state.permissions().mode() & 0o7777, 0o750);
    let credentials = std::fs::metadata("/etc/postdesk/credentials").unwrap();
    assert_eq!(credentials.permissions().mode() & 0o777, 0o700);
    std::fs::write(MARKER, "").unwrap();

    // Never started nor enabled on install.
    assert!(
        !Path::new("/etc/systemd/system/multi-user.target.wants/postdesk.service").exists(),
        "the install enabled the service"
    );

    for file in [
        "/usr/share/man/man1/postdesk.1.gz",
        "/usr/share/man/man1/postdesk-tickets.1.gz",
        "/usr/share/man/man1/postdesk-db-vacuum.1.gz",
        "/usr/share/man/man5/postdesk.toml.5.gz",
        "/usr/share/bash-completion/completions/postdesk",
        "/usr/share/zsh/vendor-completions/_postdesk",
        "/usr/share/fish/vendor_completions.d/postdesk.fish",
        "/usr/share/doc/postdesk/copyright",
        "/usr/share/doc/postdesk/changelog.gz",
    ] {
        assert!(Path::new(file).is_file(), "{file} missing");
    }
    // The config page is the README's reference: every key of its first table is in it.
    let page = ok("sh", &["-c", "zcat /usr/share/man/man5/postdesk.toml.5.gz"]);
    for key in [
        "database",
        "ticket_tag",
        "token_key_file",
        "templates",
        "response_target",
    ] {
        assert!(
            page.contains(&format!("\\fB{key}\\fR")),
            "{key} not in postdesk.toml(5)"
        );
    }
    // Stripped, without debug info.
    let file = ok("file", &["-L", "/usr/bin/postdesk"]);
    assert!(
        file.contains("stripped") && !file.contains("not stripped"),
        "{file}"
    );
}

/// A user, in the group `postdesk` or not; no home, no login.
fn add_user(name: &str, in_group: bool) {
    let mut args = vec!["--no-create-home", "--shell", "/usr/sbin/nologin"];
    if in_group {
        args.extend(["--groups", "postdesk"]);
    }
    args.push(name);
    ok("useradd", &args);
}

/// Ticket references that `user` sees with `postdesk tickets --json`.
fn tickets_seen_by(user: &str) -> Vec<String> {
    let out = postdesk_as(user, &["tickets", "--json"]);
    assert!(
        out.status.success(),
        "{user}: postdesk tickets failed: {}",
        text(&out.stderr)
    );
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    listing
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {listing}"))
        .iter()
        .map(|t| t["reference"].to_string())
        .collect()
}

fn ingest_as_postdesk(mail: &Path) {
    let mut child = Command::new("runuser")
        .args(["-u", "postdesk", "--", "/usr/bin/postdesk", "ingest", "-"])
        .current_dir("/")
        .env_remove("POSTDESK_CONFIG")
        .env_remove("POSTDESK_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(mail).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "ingest: {}", text(&out.stderr));
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The daemon as the service runs it (user `postdesk`), on the installed database, with a
/// Maildir mailbox in its state directory.
fn start_daemon() -> Child {
    let maildir = format!("{STATE}/test-maildir");
    let config = format!("{STATE}/test-daemon.toml");
    std::fs::write(
        &config,
        format!(
            "database = \"{STATE}/postdesk.db\"\n\n[[mailbox]]\nname = \"support\"\naddress = \"support@example.com\"\nmaildir = \"{maildir}\"\n"
        ),
    )
    .unwrap();
    ok("chown", &["postdesk:postdesk", &config]);
    Command::new("runuser")
        .args([
            "-u",
            "postdesk",
            "--",
            "/usr/bin/postdesk",
            "--config",
            &config,
            "run",
        ])
        .current_dir("/")
        .env_remove("POSTDESK_CONFIG")
        .env_remove("POSTDESK_DB")
        .env_remove("NOTIFY_SOCKET")
        .env("POSTDESK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Drops a message into the daemon's Maildir as its user would find it.
fn deliver(mail: &Path, name: &str) {
    let new = format!("{STATE}/test-maildir/new");
    wait_for("the daemon's Maildir", || Path::new(&new).is_dir());
    let tmp = format!("{STATE}/test-maildir/tmp/{name}");
    std::fs::copy(mail, &tmp).unwrap();
    ok("chown", &["postdesk:postdesk", &tmp]);
    std::fs::rename(&tmp, format!("{new}/{name}")).unwrap();
}

#[test]
fn the_debian_package_installs_runs_without_root_and_purges() {
    assert!(
        is_root(),
        "tests/package.rs installs a Debian package: run it as root (CI does)"
    );
    ensure_tools();
    if Path::new(STATE).exists() && !Path::new(MARKER).exists() {
        panic!(
            "{STATE} exists and was not made by this test: it may hold a real desk's database; \
             run this test on a test machine"
        );
    }
    clean_up();
    let deb = build_package();
    lintian_has_no_error(&deb);

    let mut installed = Installed { daemon: None };
    ok("dpkg", &["-i", deb.to_str().unwrap()]);
    the_files_and_the_user_are_there();
    the_unit_verifies_with_its_hardening();

    let version = ok("/usr/bin/postdesk", &["--version"]);
    assert!(
        version.starts_with(&format!("postdesk {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );

    // The installed binary, as the service's user, on the installed config.
    let out = postdesk_as("postdesk", &["check-config"]);
    assert!(out.status.success(), "check-config: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("/etc/postdesk/postdesk.toml: OK"),
        "{}",
        text(&out.stdout)
    );

    // The service's user files a message; a member of its group reads it, read-only.
    let mail = repo().join("fixtures/mail/01-charset-koi8r.eml");
    ingest_as_postdesk(&mail);
    let db = format!("{STATE}/postdesk.db");
    let meta = std::fs::metadata(&db).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    add_user(READER, true);
    add_user(OUTSIDER, false);
    let before = tickets_seen_by(READER);
    assert_eq!(before.len(), 1, "{before:?}");
    let out = postdesk_as(OUTSIDER, &["tickets"]);
    assert!(
        !out.status.success(),
        "someone outside the group read the database"
    );

    // With a daemon writing it (its -wal and -shm open), the group still reads.
    installed.daemon = Some(start_daemon());
    let wal = format!("{db}-wal");
    wait_for("the daemon to open the database", || {
        Path::new(&wal).exists()
    });
    deliver(
        &repo().join("fixtures/mail/02-charset-cp1251.eml"),
        "1.pdtest",
    );
    wait_for("the daemon to file the delivered mail", || {
        tickets_seen_by(READER).len() == 2
    });
    for file in [db.clone(), wal, format!("{db}-shm")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{file}");
    }
    let out = postdesk_as(READER, &["customer", "ivan.petrov@mail.example.ru"]);
    assert!(out.status.success(), "customer: {}", text(&out.stderr));
    let out = postdesk_as(READER, &["report", "--since", "3650d"]);
    assert!(out.status.success(), "report: {}", text(&out.stderr));
    // ... and cannot write: the database is not theirs.
    let out = postdesk_as(READER, &["db", "vacuum"]);
    assert!(
        !out.status.success(),
        "a group member vacuumed the database"
    );

    // Maintenance that needs the database to itself refuses under the live daemon.
    let out = run("/usr/bin/postdesk", &["db", "vacuum"]);
    assert!(!out.status.success(), "vacuum ran under a live daemon");
    let said = text(&out.stderr);
    assert!(
        said.contains("a postdesk daemon (pid ") && said.contains("systemctl stop postdesk"),
        "{said}"
    );
    let mut daemon = installed.daemon.take().unwrap();
    ok("kill", &["-TERM", &daemon.id().to_string()]);
    daemon.wait().unwrap();
    let out = run("/usr/bin/postdesk", &["db", "vacuum"]);
    assert!(out.status.success(), "vacuum: {}", text(&out.stderr));
    assert_eq!(tickets_seen_by(READER).len(), 2);

    ok("dpkg", &["--purge", "postdesk"]);
    assert!(!Path::new("/usr/bin/postdesk").exists());
    assert!(!Path::new("/etc/postdesk/postdesk.toml").exists());
    assert!(!Path::new("/usr/lib/systemd/system/postdesk.service").exists());
    // The desk's data outlives the package.
    assert!(Path::new(&db).exists());
    drop(installed);
    assert!(!Path::new(STATE).exists());
}
