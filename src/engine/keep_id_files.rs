//! podman's keep-id extra: the caller gets an entry in the container's
//! /etc/passwd and /etc/group when the image has none for the IDs it
//! appears as, so `whoami`, `id -un` and programs that look up their
//! user (ssh, git, shells' prompts) work. The image's files are copied
//! with the line added into the container's directory and bound over
//! the image's (read-only binds would break `passwd`-style tools, so
//! they are writable like podman's, but changes stay out of the layers:
//! `commit`, `diff` and `export` see the image's files).

use std::fs;
use std::path::Path;

use oci_spec::runtime::{MountBuilder, Spec};

use super::EngineError;
use crate::state::UsernsRecord;

/// The files to bind, each `None` when the image already names the ID.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct KeepIdFiles {
    pub passwd: Option<String>,
    pub group: Option<String>,
}

impl KeepIdFiles {
    pub fn is_empty(&self) -> bool {
        self.passwd.is_none() && self.group.is_none()
    }
}

/// The host user skiff runs as: name, full name and home for the entry.
pub(super) struct Caller {
    pub name: String,
    pub gecos: String,
    pub home: String,
}

impl Caller {
    pub fn current() -> Option<Caller> {
        let user = nix::unistd::User::from_uid(nix::unistd::getuid()).ok()??;
        Some(Caller {
            gecos: user.gecos.to_string_lossy().into_owned(),
            home: user.dir.to_string_lossy().into_owned(),
            name: user.name,
        })
    }
}

/// Whether an /etc/passwd or /etc/group text has an entry whose third
/// field (the ID) is `id`.
fn names_id(text: &str, id: u32) -> bool {
    let wanted = id.to_string();
    text.lines()
        .any(|line| line.split(':').nth(2) == Some(wanted.as_str()))
}

fn with_line(text: Option<&str>, line: String) -> String {
    let mut out = text.unwrap_or_default().to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&line);
    out
}

/// The passwd and group texts for a keep-id container running as
/// `uid:gid`, from the image's own (`None`: the image has no such file).
pub(super) fn keep_id_files(
    image_passwd: Option<&str>,
    image_group: Option<&str>,
    uid: u32,
    gid: u32,
    caller: &Caller,
) -> KeepIdFiles {
    let passwd = (!image_passwd.is_some_and(|t| names_id(t, uid))).then(|| {
        with_line(
            image_passwd,
            format!(
                "{}:*:{uid}:{gid}:{}:{}:/bin/sh\n",
                caller.name, caller.gecos, caller.home
            ),
        )
    });
    let group = (!image_group.is_some_and(|t| names_id(t, gid))).then(|| {
        with_line(
            image_group,
            format!("{}:x:{gid}:{}\n", caller.name, caller.name),
        )
    });
    KeepIdFiles { passwd, group }
}

/// Writes the files into `container_dir`, owned by the container's root
/// (as the image's are), and binds them over /etc/passwd and /etc/group
/// in `spec`.
pub(super) fn install(
    files: &KeepIdFiles,
    container_dir: &Path,
    userns: &UsernsRecord,
    spec: &mut Spec,
) -> Result<(), EngineError> {
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    let mut written = Vec::new();
    for (name, text) in [("passwd", &files.passwd), ("group", &files.group)] {
        let Some(text) = text else { continue };
        let path = container_dir.join(name);
        fs::write(&path, text).map_err(EngineError::io(format!("writing {}", path.display())))?;
        written.push(path.clone());
        mounts.push(
            MountBuilder::default()
                .destination(format!("/etc/{name}"))
                .typ("bind")
                .source(path)
                .options(vec!["bind".to_string()])
                .build()
                .map_err(|e| EngineError::Invalid(format!("planning /etc/{name}: {e}")))?,
        );
    }
    super::idmapped_layers::give_to_container_root(userns, &written)?;
    spec.set_mounts(Some(mounts));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            name: "dev".into(),
            gecos: "Dev Eloper".into(),
            home: "/home/dev".into(),
        }
    }

    #[test]
    fn adds_the_caller_only_where_the_image_lacks_the_id() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false";
        let group = "root:x:0:\n";
        let files = keep_id_files(Some(passwd), Some(group), 1000, 1000, &caller());
        assert_eq!(
            files.passwd.as_deref(),
            Some(
                "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n\
                 dev:*:1000:1000:Dev Eloper:/home/dev:/bin/sh\n"
            )
        );
        assert_eq!(files.group.as_deref(), Some("root:x:0:\ndev:x:1000:dev\n"));

        let files = keep_id_files(Some(passwd), Some(group), 0, 0, &caller());
        assert!(files.is_empty());
        // No /etc/passwd in the image: the entry alone.
        let files = keep_id_files(None, Some(group), 7, 0, &caller());
        assert_eq!(
            files.passwd.as_deref(),
            Some("dev:*:7:0:Dev Eloper:/home/dev:/bin/sh\n")
        );
        assert_eq!(files.group, None);
    }
}
