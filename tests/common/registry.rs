//! A real registry for pull/push tests: Debian's `docker-registry` (the
//! CNCF Distribution server) on 127.0.0.1, one per test, plain HTTP or
//! with htpasswd auth and a self-signed TLS certificate. Stopped and
//! removed on drop.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::token_server::TokenServer;
use super::{TESTS_DIR, output_of, wait_for};

/// How long the registry may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub const REGISTRY_USER: &str = "tester";
pub const REGISTRY_PASSWORD: &str = "s3cret-pw";

/// What a test registry requires.
#[derive(Clone, Copy, Default)]
pub struct RegistrySetup {
    /// htpasswd basic auth with [`REGISTRY_USER`]/[`REGISTRY_PASSWORD`].
    pub auth: bool,
    /// HTTPS with a self-signed certificate for 127.0.0.1.
    pub tls: bool,
    /// Bearer tokens from a token service (see `token_server.rs`) for
    /// [`REGISTRY_USER`]/[`REGISTRY_PASSWORD`]; anonymous clients get
    /// tokens without access.
    pub token: bool,
}

pub struct Registry {
    child: Child,
    dir: PathBuf,
    /// `127.0.0.1:PORT`, as image references name it.
    pub address: String,
    /// A directory holding the CA certificate (`ca.crt`), for `--cert-dir`.
    pub cert_dir: Option<PathBuf>,
    /// Dropped after the registry process is gone.
    _token_server: Option<TokenServer>,
}

impl Registry {
    pub fn start(setup: RegistrySetup) -> Registry {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = Path::new(TESTS_DIR).join(format!("p{}-registry-{n}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // The rootless test user reads the CA certificate from here.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n",
            dir.join("data").display()
        );
        let mut cert_dir = None;
        if setup.tls {
            let certs = dir.join("certs");
            fs::create_dir_all(&certs).unwrap();
            fs::set_permissions(&certs, fs::Permissions::from_mode(0o755)).unwrap();
            make_certificate(&certs);
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("server.crt").display(),
                dir.join("key.pem").display()
            ));
            // Only the CA stays in the directory given as --cert-dir.
            fs::rename(certs.join("key.pem"), dir.join("key.pem")).unwrap();
            fs::rename(certs.join("server.crt"), dir.join("server.crt")).unwrap();
            cert_dir = Some(certs);
        }
        if setup.auth {
            let htpasswd = dir.join("htpasswd");
            let mut cmd = Command::new("htpasswd");
            cmd.args(["-Bbn", REGISTRY_USER, REGISTRY_PASSWORD]);
            let out = output_of(cmd, None, Duration::from_secs(30));
            assert!(out.status.success(), "htpasswd failed");
            fs::write(&htpasswd, &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: skiff-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let token_server = setup.token.then(|| TokenServer::start(&dir));
        if let Some(server) = &token_server {
            config.push_str(&server.registry_auth_config());
        }
        let config_path = dir.join("config.yml");
        fs::write(&config_path, config).unwrap();
        let log = fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry (apt-get install docker-registry)");
        let registry = Registry {
            child,
            dir,
            address,
            cert_dir,
            _token_server: token_server,
        };
        wait_for("the registry to accept connections", START_TIMEOUT, || {
            TcpStream::connect(&registry.address).is_ok()
        });
        registry
    }

    /// `127.0.0.1:PORT/NAME`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.address)
    }

    /// Where the registry stores the blob `hex` (`…/blobs/sha256/xx/<hex>/data`).
    pub fn blob_file(&self, hex: &str) -> PathBuf {
        self.dir
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA (`ca.crt`) and a server certificate for 127.0.0.1 signed by it
/// (`server.crt`, key `key.pem`) in `dir`.
fn make_certificate(dir: &Path) {
    let openssl = |args: &[&str]| {
        let mut cmd = Command::new("openssl");
        cmd.args(args).current_dir(dir);
        let out = output_of(cmd, None, Duration::from_secs(60));
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=skiff test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "server.crt",
        "-extfile",
        "server.ext",
    ]);
    for private in ["ca.key", "server.csr", "server.ext", "ca.srl"] {
        let _ = fs::rename(dir.join(private), dir.join("..").join(private));
    }
    fs::set_permissions(dir.join("ca.crt"), fs::Permissions::from_mode(0o644)).unwrap();
}

/// What a raw HTTP request to a plain-HTTP test registry answered.
pub struct HttpAnswer {
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Registry {
    /// One HTTP/1.1 request to the registry (plain HTTP only): for tests
    /// that put content the way other tools would, not through skiff.
    pub fn request(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> HttpAnswer {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let location = head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_string())
        });
        HttpAnswer {
            status,
            head: head.clone(),
            location,
            body: answer[split + 4..].to_vec(),
        }
    }

    /// Uploads `data` as a blob of `repository`; returns its digest.
    pub fn put_blob(&self, repository: &str, data: &[u8]) -> String {
        let digest = format!("sha256:{}", super::archives::sha256_hex(data));
        let start = self.request(
            "POST",
            &format!("/v2/{repository}/blobs/uploads/"),
            "application/octet-stream",
            b"",
        );
        assert_eq!(
            start.status,
            202,
            "starting an upload: {}",
            String::from_utf8_lossy(&start.body)
        );
        let location = start.location.expect("an upload location");
        let path = match location.find("/v2/") {
            Some(i) => location[i..].to_string(),
            None => location,
        };
        let separator = if path.contains('?') { '&' } else { '?' };
        let done = self.request(
            "PUT",
            &format!("{path}{separator}digest={digest}"),
            "application/octet-stream",
            data,
        );
        assert_eq!(
            done.status,
            201,
            "finishing an upload: {}",
            String::from_utf8_lossy(&done.body)
        );
        digest
    }

    /// Puts a manifest (or index) of `media_type` as `repository:reference`.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        data: &[u8],
    ) -> String {
        let answer = self.request(
            "PUT",
            &format!("/v2/{repository}/manifests/{reference}"),
            media_type,
            data,
        );
        assert_eq!(
            answer.status,
            201,
            "putting a manifest: {}",
            String::from_utf8_lossy(&answer.body)
        );
        format!("sha256:{}", super::archives::sha256_hex(data))
    }
}
