//! `ADD <url>`: the file is fetched over HTTP(S) into the store's `tmp/`
//! (each build, as docker does: the cache key is then its content), its
//! SHA-256 checked against `--checksum`, and it is added as a file of
//! mode 0600 whose time is the server's Last-Modified, as docker's ADD.
//! The client (reqwest on a current-thread tokio runtime) exists only
//! while a build downloads.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::layers::{Digest, HashingWriter};

/// A downloaded file, removed when dropped.
pub struct Downloaded {
    pub path: PathBuf,
    pub digest: Digest,
    /// Last-Modified, seconds since the epoch.
    pub modified: Option<i64>,
    /// The name for a destination directory: the URL path's last part.
    pub name: String,
}

impl Drop for Downloaded {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The file name docker takes from a URL (`…/dir/app.tgz?x=1` → `app.tgz`).
pub fn url_file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let path = rest.split(['?', '#']).next()?;
    let (_, path) = path.split_once('/')?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) in seconds since
/// the epoch.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| x == month)? as i64 + 1;
    let d: i64 = day.parse().ok()?;
    let y: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, min, s] = hms.as_slice() else {
        return None;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + s)
}

/// Fetches `url` into `tmp_dir`; with `checksum` (`sha256:<hex>`) the
/// content must match it.
pub fn download(
    url: &str,
    tmp_dir: &Path,
    checksum: Option<&Digest>,
) -> Result<Downloaded, String> {
    let name = url_file_name(url).unwrap_or_else(|| "__unnamed__".to_string());
    let path = tmp_dir.join(format!(
        "download-{}-{}",
        std::process::id(),
        crate::state::new_container_id()
    ));
    let file = File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let mut downloaded = Downloaded {
        path,
        digest: Digest::of_bytes(b""),
        modified: None,
        name,
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the HTTP client: {e}"))?;
    let mut writer = HashingWriter::new(std::io::BufWriter::new(file));
    let modified = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            // A server that stops sending must not hang the build forever.
            .read_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let mut response = client.get(url).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP status {status}"));
        }
        let modified = response
            .headers()
            .get("last-modified")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            writer.write_all(&chunk).map_err(|e| e.to_string())?;
        }
        Ok(modified)
    });
    let modified = modified.map_err(|e| format!("downloading {url}: {e}"))?;
    let (mut inner, digest, _) = writer.finish();
    inner
        .flush()
        .map_err(|e| format!("writing the download of {url}: {e}"))?;
    if let Some(expected) = checksum
        && *expected != digest
    {
        return Err(format!(
            "the content of {url} does not match --checksum: expected {expected}, got {digest}"
        ));
    }
    downloaded.digest = digest;
    downloaded.modified = modified;
    Ok(downloaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dates() {
        assert_eq!(
            url_file_name("https://x.org/a/b/app.tgz?v=1").as_deref(),
            Some("app.tgz")
        );
        assert_eq!(
            url_file_name("http://127.0.0.1:8080/f").as_deref(),
            Some("f")
        );
        assert_eq!(url_file_name("https://x.org/"), None);
        assert_eq!(url_file_name("https://x.org"), None);
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
