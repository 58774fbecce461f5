//! Reading and crafting archives: tar entries, digests, and docker-archives
//! built byte by byte (hostile input for the unpacker).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The names in `dir`, sorted; empty when it is missing.
pub fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads every entry of a tar archive: (header, data).
pub fn read_tar_entries(archive: &[u8]) -> Vec<(tar::Header, Vec<u8>)> {
    let mut tar = tar::Archive::new(archive);
    tar.entries()
        .expect("reading tar")
        .map(|entry| {
            let mut entry = entry.expect("reading tar entry");
            let header = entry.header().clone();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (header, data)
        })
        .collect()
}

/// Writes entries back as a tar archive, headers unchanged.
pub fn write_tar_entries(entries: &[(tar::Header, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (header, data) in entries {
        builder.append(header, data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The config digest hex (= the image ID) of a docker-archive.
pub fn docker_archive_config_hex(archive: &Path) -> String {
    let entries = read_tar_entries(&fs::read(archive).unwrap());
    let (_, manifest) = entries
        .iter()
        .find(|(h, _)| h.path().unwrap().to_str() == Some("manifest.json"))
        .expect("manifest.json in the docker-archive");
    let manifest: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    manifest[0]["Config"]
        .as_str()
        .unwrap()
        .trim_end_matches(".json")
        .to_string()
}

/// The kinds of raw layer entries [`LayerBuilder`] writes.
pub enum RawEntry<'a> {
    File(&'a [u8]),
    Dir,
    Symlink(&'a str),
    Hardlink(&'a str),
}

/// Builds a layer tar byte by byte, including entries the `tar` crate's
/// checked API refuses (`../x`, absolute names): hostile input for the
/// unpacker.
pub struct LayerBuilder(tar::Builder<Vec<u8>>);

impl Default for LayerBuilder {
    fn default() -> Self {
        LayerBuilder(tar::Builder::new(Vec::new()))
    }
}

impl LayerBuilder {
    pub fn entry(mut self, name: &str, kind: RawEntry<'_>) -> Self {
        let mut header = tar::Header::new_gnu();
        assert!(
            name.len() < 100,
            "raw entry names must fit the 100-byte field"
        );
        header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        let (entry_type, data, mode): (tar::EntryType, &[u8], u32) = match kind {
            RawEntry::File(data) => (tar::EntryType::Regular, data, 0o644),
            RawEntry::Dir => (tar::EntryType::Directory, &[], 0o755),
            RawEntry::Symlink(target) => {
                header.set_link_name(target).unwrap();
                (tar::EntryType::Symlink, &[], 0o777)
            }
            RawEntry::Hardlink(target) => {
                header.set_link_name(target).unwrap();
                (tar::EntryType::Link, &[], 0o644)
            }
        };
        header.set_entry_type(entry_type);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        self.0.append(&header, data).unwrap();
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// Writes a docker-archive with one uncompressed layer whose diff_id is
/// correct (so digest checks pass and only the layer's content is on trial).
pub fn write_docker_archive(path: &Path, repo_tag: &str, layer: &[u8]) {
    write_docker_archive_claiming(path, repo_tag, layer, &sha256_hex(layer));
}

/// Like [`write_docker_archive`], with the config claiming `diff_id` (hex)
/// for the layer, whatever it holds.
pub fn write_docker_archive_claiming(path: &Path, repo_tag: &str, layer: &[u8], diff_id: &str) {
    let config = serde_json::json!({
        "architecture": std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64"),
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": { "Cmd": ["sh"], "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{diff_id}")] },
    })
    .to_string();
    let config_hex = sha256_hex(config.as_bytes());
    let manifest = serde_json::json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": [repo_tag],
        "Layers": [format!("{diff_id}/layer.tar")],
    }])
    .to_string();
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in [
        (format!("{diff_id}/layer.tar"), layer),
        (format!("{config_hex}.json"), config.as_bytes()),
        ("manifest.json".to_string(), manifest.as_bytes()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        builder.append_data(&mut header, name, data).unwrap();
    }
    fs::write(path, builder.into_inner().unwrap()).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}
