//! System programs some tests drive (nginx, systemd-analyze) are packages,
//! not Cargo dependencies. Where one is missing a test prints SKIPPED on
//! stderr and passes, so the README's test command works on a fresh
//! machine; with `CI=true` a missing program fails the test instead, since
//! CI installs them and a skip there would hide a regression.

use std::path::PathBuf;

/// The program's path, or `None` after printing why `test` is skipped.
pub fn system_tool(program: &str, package: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        // Debian puts nginx in /usr/sbin, which a user's PATH may lack.
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: {program} is not installed and CI=true (apt-get install {package})"
        );
        eprintln!(
            "SKIPPED {test}: {program} is not installed (apt-get install {package}); \
             with CI=true this is a failure"
        );
    }
    found
}
