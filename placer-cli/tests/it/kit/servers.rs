//! Finding the server binaries the ignored tests need, and free loopback
//! ports to start them on.
//!
//! A test that needs a server is marked `#[ignore = "needs …"]`, so the
//! default run lists it as ignored; run with `-- --include-ignored` it must
//! find the server, and a missing one is a failure that names the package.

use std::path::PathBuf;

/// The first `binary` on `PATH`, if any.
pub fn which(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(binary))
            .find(|candidate| candidate.is_file())
    })
}

/// `binary` on `PATH`; panics, naming the Debian `package` that has it,
/// when it is missing.
pub fn locate(binary: &str, package: &str) -> PathBuf {
    which(binary).unwrap_or_else(|| {
        panic!(
            "`{binary}` is not on PATH: this test needs it (Debian package `{package}`). \
             Install it, or run the tests without `--include-ignored` to leave out \
             the ones that need a server."
        )
    })
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("no free loopback port")
}
