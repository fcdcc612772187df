//! Which git commit a policy file came from, for the audit trail.

use std::path::Path;
use std::process::Command;

/// `SHELFLIFE_POLICY_REVISION` when set (CI systems know the commit they deploy); otherwise
/// `git rev-parse HEAD` of the checkout holding `file`, with `+dirty` when the file differs
/// from that commit or is not committed at all. `None` outside a git checkout or without git.
pub fn revision(file: &Path) -> Option<String> {
    if let Some(rev) = std::env::var("SHELFLIFE_POLICY_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
    {
        return Some(rev.trim().to_string());
    }
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let head = git(dir, &["rev-parse", "--verify", "HEAD"])?;
    let name = file.file_name()?;
    let status = git(dir, &["status", "--porcelain", "--", name.to_str()?])?;
    Some(if status.is_empty() {
        head
    } else {
        format!("{head}+dirty")
    })
}

/// Runs git in `dir`; its trimmed stdout, or `None` if it failed.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_outside_any_checkout_has_no_revision() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, "x").unwrap();
        if std::env::var_os("SHELFLIFE_POLICY_REVISION").is_none() {
            assert_eq!(revision(&file), None);
        }
    }

    #[test]
    fn a_committed_file_has_the_head_commit_and_an_edited_one_is_dirty() {
        if std::env::var_os("SHELFLIFE_POLICY_REVISION").is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, "a").unwrap();
        let run = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        run(&["init", "-q"]);
        run(&["add", "p.yaml"]);
        run(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "p",
        ]);
        let head = git(dir.path(), &["rev-parse", "HEAD"]).unwrap();
        assert_eq!(revision(&file), Some(head.clone()));
        std::fs::write(&file, "b").unwrap();
        assert_eq!(revision(&file), Some(format!("{head}+dirty")));
    }
}
