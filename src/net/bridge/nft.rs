//! Running the `nft` program: a batch on its standard input (`nft -f -`,
//! one atomic transaction), and the table as JSON for the cleanup of
//! leftovers.

use std::io::Write;
use std::process::{Command, Stdio};

use super::BridgeError;

/// Where `nft` is looked for: sbin is often not on a user's PATH.
const NFT_PATHS: &[&str] = &["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"];

fn nft_program() -> &'static str {
    NFT_PATHS
        .iter()
        .copied()
        .find(|path| std::path::Path::new(path).exists())
        .unwrap_or("nft")
}

/// Applies `batch` atomically; on failure the error carries nft's own
/// message (it names the failing command).
pub(super) fn apply(what: &str, batch: &str) -> Result<(), BridgeError> {
    let mut child = Command::new(nft_program())
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BridgeError::NftUnavailable { source })?;
    let written = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(batch.as_bytes());
    let output = child
        .wait_with_output()
        .map_err(|source| BridgeError::NftUnavailable { source })?;
    if output.status.success() {
        written.map_err(|source| BridgeError::NftUnavailable { source })?;
        return Ok(());
    }
    Err(BridgeError::Nft {
        what: what.to_string(),
        message: one_line(&String::from_utf8_lossy(&output.stderr)),
    })
}

/// The `inet skiff` table as nft's JSON, or None when there is no table.
pub(super) fn list_table() -> Result<Option<serde_json::Value>, BridgeError> {
    let output = Command::new(nft_program())
        .args(["-j", "list", "table", "inet", "skiff"])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BridgeError::NftUnavailable { source })?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        if message.contains("No such file or directory") {
            return Ok(None);
        }
        return Err(BridgeError::Nft {
            what: "list skiff's nftables table".to_string(),
            message: one_line(&message),
        });
    }
    serde_json::from_slice(&output.stdout)
        .map(Some)
        .map_err(|error| BridgeError::Nft {
            what: "list skiff's nftables table".to_string(),
            message: format!("unreadable JSON from nft list: {error}"),
        })
}

/// nft's error output is several lines (message, the command, a caret
/// line); the error is one line: the messages and the commands they name.
fn one_line(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.chars().all(|c| c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The elements of one map of the `inet skiff` table as nft's JSON
/// (`[key, verdict]` pairs); none when there is no table.
pub(super) fn list_map_elements(map: &str) -> Result<Vec<serde_json::Value>, BridgeError> {
    let what = || format!("list skiff's nftables map {map}");
    let output = Command::new(nft_program())
        .args(["-j", "list", "map", "inet", "skiff", map])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BridgeError::NftUnavailable { source })?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        if message.contains("No such file or directory") {
            return Ok(Vec::new());
        }
        return Err(BridgeError::Nft {
            what: what(),
            message: one_line(&message),
        });
    }
    let listing: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|error| BridgeError::Nft {
            what: what(),
            message: format!("unreadable JSON from nft list: {error}"),
        })?;
    Ok(listing["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|object| object["map"]["elem"].as_array())
        .flatten()
        .cloned()
        .collect())
}
