//! Records the commit the binary is built from, for `postdesk --version`:
//! `POSTDESK_COMMIT` from the environment if set (a build from a source tarball can pass
//! it), else `git rev-parse` of the checkout, else "unknown commit" (no git, or not a
//! checkout): the build never fails for want of git.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=POSTDESK_COMMIT");
    let commit = match std::env::var("POSTDESK_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => format!("commit {}", commit.trim()),
        _ => {
            // Built again when HEAD moves: HEAD itself (a branch switch) and the branch's
            // ref (a commit), wherever this checkout (or worktree) keeps them.
            for file in ["HEAD", "refs/heads", "packed-refs"] {
                // (A path that does not exist would run this script at every build.)
                if let Some(path) = git(&["rev-parse", "--git-path", file]).map(PathBuf::from)
                    && path.exists()
                {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
            match git(&["rev-parse", "--short=12", "HEAD"]) {
                Some(commit) => format!("commit {commit}"),
                None => "unknown commit".to_string(),
            }
        }
    };
    println!("cargo:rustc-env=POSTDESK_COMMIT={commit}");
}
