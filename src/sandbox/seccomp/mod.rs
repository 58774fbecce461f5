//! seccomp: docker's profile format (`profile`), its compilation to BPF
//! (`compile`), the compiled programs' cache, and loading them.
//!
//! The spec's `linux.seccomp` is compiled once per distinct filter and
//! kept as `<root>/seccomp/<sha256>.bpf`; a run reads that file in the
//! parent, before clone, so the child between fork and exec only makes
//! the seccomp(2) calls on memory it already has.

pub mod compile;
pub mod profile;

use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxSeccomp, Spec};
use seccompiler::BpfProgram;
use sha2::{Digest, Sha256};

use super::SetupError;

/// Bumped when `compile` changes what it emits, so stale caches are not
/// read.
const CACHE_FORMAT: &str = "skiff-seccomp-1 seccompiler-0.5";

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("compiling the seccomp filter: {0}")]
    Compile(String),
    #[error("{what} {}: {source}", path.display())]
    Cache {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The filters to install, in order (see `compile`).
#[derive(Debug, Clone)]
pub struct SeccompProgram(pub(super) Vec<BpfProgram>);

fn cache_key(seccomp: &LinuxSeccomp) -> String {
    let mut h = Sha256::new();
    h.update(CACHE_FORMAT.as_bytes());
    h.update(serde_json::to_vec(seccomp).unwrap_or_default());
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// The compiled filter of `spec`, from the cache in `cache_dir` or
/// compiled and stored there; `None` when the spec has no filter. Runs in
/// the parent: it may allocate and read files.
pub fn prepare(spec: &Spec, cache_dir: &Path) -> Result<Option<SeccompProgram>, SeccompError> {
    let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let path = cache_dir.join(format!("{}.bpf", cache_key(seccomp)));
    if let Some(programs) = std::fs::read(&path).ok().and_then(|b| compile::decode(&b)) {
        return Ok(Some(SeccompProgram(programs)));
    }
    let programs = compile::compile(seccomp).map_err(SeccompError::Compile)?;
    store(&path, &compile::encode(&programs))?;
    Ok(Some(SeccompProgram(programs)))
}

/// Writes the cache file atomically: concurrent runs each write their
/// own temporary file, and a reader sees a whole program or none.
fn store(path: &Path, bytes: &[u8]) -> Result<(), SeccompError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let err = |what, path: &Path| {
        let path = path.to_path_buf();
        move |source| SeccompError::Cache { what, path, source }
    };
    std::fs::create_dir_all(dir).map_err(err("creating", dir))?;
    let tmp = dir.join(format!(".{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(err("writing", &tmp))?;
    f.write_all(bytes).map_err(err("writing", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(err("renaming into", path))
}

/// Installs the filters on the calling thread. Needs no_new_privs or
/// CAP_SYS_ADMIN in the user namespace (the caller decides when, see
/// `last_steps`). Allocation-free: safe between fork and exec.
pub fn load(program: &SeccompProgram) -> Result<(), SetupError> {
    for p in &program.0 {
        let prog = libc::sock_fprog {
            len: p.len() as u16,
            filter: p.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at a live instruction array of `len`
        // entries (seccompiler's sock_filter has the kernel's layout); the
        // kernel copies it and keeps no pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(SetupError::Sys {
                what: "loading the seccomp filter".into(),
                source: nix::Error::last(),
            });
        }
    }
    Ok(())
}
