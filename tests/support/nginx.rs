//! A real nginx in front of the lab, configured from the committed
//! `nginx/templates/tgate.conf.template` and its allow-lists' format, with a
//! fresh self-signed certificate. Everything nginx writes (pid, logs, temp
//! files) stays in a temporary directory, and it listens on loopback ports
//! picked for the test, so tests can run side by side and as any user.
//! Where nginx is not installed the tests are skipped (see `tool.rs`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The committed server configuration, relative to the package root.
const TEMPLATE: &str = "nginx/templates/tgate.conf.template";

/// The nginx binary, or `None` after printing why the test is skipped.
pub fn nginx_or_skip(test: &str) -> Option<PathBuf> {
    crate::tool::system_tool("nginx", "nginx", test)
}

/// Who the allow-lists let in, as nginx `allow` arguments.
pub struct AllowLists<'a> {
    pub routers: &'a [&'a str],
    pub admin: &'a [&'a str],
    pub telegram: &'a [&'a str],
}

/// A running nginx; dropping it stops it.
pub struct Nginx {
    binary: PathBuf,
    child: Child,
    dir: tempfile::TempDir,
    https_port: u16,
    http_port: u16,
    cert_pem: Vec<u8>,
}

impl Nginx {
    /// Renders the configuration, makes the certificate, starts nginx in
    /// front of `api` and waits until it answers `/healthz` over HTTPS.
    pub async fn start(binary: PathBuf, api: SocketAddr, lists: &AllowLists<'_>) -> Nginx {
        let dir = tempfile::tempdir().expect("temporary directory");
        // nginx's workers drop to `nobody` when the master runs as root; they
        // must be able to reach the temp directories in here.
        set_mode(dir.path(), 0o755);
        let path = |name: &str| dir.path().join(name);
        make_certificate(&path("cert.pem"), &path("key.pem"));
        for (name, entries) in [
            ("routers.allow", lists.routers),
            ("admin.allow", lists.admin),
            ("telegram.allow", lists.telegram),
        ] {
            let text: String = entries.iter().map(|e| format!("allow {e};\n")).collect();
            std::fs::write(path(name), text).expect("writing an allow-list");
        }
        let (https_port, http_port) = (free_port(), free_port());
        let server = render(&[
            ("TGATE_SERVER_NAME", "localhost".into()),
            ("TGATE_HTTP_LISTEN", format!("127.0.0.1:{http_port}")),
            ("TGATE_HTTPS_LISTEN", format!("127.0.0.1:{https_port}")),
            ("TGATE_API", api.to_string()),
            // The lab is `tgate serve`: webhook calls go to the API's listener.
            ("TGATE_WEBHOOK", api.to_string()),
            ("TGATE_TLS_CERT", display(&path("cert.pem"))),
            ("TGATE_TLS_KEY", display(&path("key.pem"))),
            ("TGATE_NGINX_DIR", display(dir.path())),
            ("TGATE_ACME_ROOT", display(&path("acme"))),
        ]);
        std::fs::write(path("tgate.conf"), server).expect("writing tgate.conf");
        std::fs::write(path("nginx.conf"), main_config(dir.path())).expect("writing nginx.conf");
        let cert_pem = std::fs::read(path("cert.pem")).expect("reading the certificate");
        let child = Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(path("error.log"))
            .arg("-c")
            .arg(path("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .spawn()
            .expect("starting nginx");
        let mut nginx = Nginx {
            binary,
            child,
            dir,
            https_port,
            http_port,
            cert_pem,
        };
        nginx.wait_ready().await;
        nginx
    }

    /// `https://localhost:<port><path>`, which `client` resolves to nginx.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https_port)
    }

    /// The plain-HTTP listener's URL for `path`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// A client that trusts only this nginx's certificate and connects from
    /// `from` (any 127.0.0.0/8 address works on loopback), so nginx sees
    /// that as the client's address. It does not follow redirects.
    pub fn client(&self, from: &str) -> reqwest::Client {
        let from: IpAddr = from.parse().expect("a source address");
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&self.cert_pem).expect("the test certificate"),
            )
            .resolve("localhost", SocketAddr::new(loopback, 0))
            .local_address(from)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .expect("an HTTPS client")
    }

    async fn wait_ready(&mut self) {
        let client = self.client("127.0.0.1");
        let until = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("nginx's status") {
                panic!("nginx exited ({status}): {}", self.error_log());
            }
            if let Ok(reply) = client.get(self.url("/healthz")).send().await
                && reply.status().is_success()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "nginx did not answer /healthz within 15 s: {}",
                self.error_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `-s stop` signals the master by its pid file, and the master stops
        // its workers; killing only the master would leave them listening.
        let stopped = Command::new(&self.binary)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-e")
            .arg(self.dir.path().join("error.log"))
            .arg("-c")
            .arg(self.dir.path().join("nginx.conf"))
            .args(["-s", "stop"])
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The committed template with its placeholders filled; a placeholder the
/// test does not know fails it, so the template and the test stay in step.
fn render(values: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(TEMPLATE);
    let mut text = std::fs::read_to_string(&path).expect("reading the nginx template");
    for (name, value) in values {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    let config: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !config.contains("${TGATE_"),
        "a placeholder left unfilled: {config}"
    );
    text
}

/// What a packaged nginx.conf or the nginx image provides around the
/// server file, with every path inside the test's directory.
fn main_config(dir: &Path) -> String {
    let dir = display(dir);
    format!(
        "pid {dir}/nginx.pid;\n\
         worker_processes 1;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
         \x20   access_log {dir}/access.log;\n\
         \x20   client_body_temp_path {dir}/client_body;\n\
         \x20   proxy_temp_path {dir}/proxy;\n\
         \x20   fastcgi_temp_path {dir}/fastcgi;\n\
         \x20   uwsgi_temp_path {dir}/uwsgi;\n\
         \x20   scgi_temp_path {dir}/scgi;\n\
         \x20   default_type application/octet-stream;\n\
         \x20   include {dir}/tgate.conf;\n\
         }}\n"
    )
}

/// A self-signed certificate for `localhost` and 127.0.0.1, by the openssl
/// command line tool.
fn make_certificate(cert: &Path, key: &Path) {
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("running openssl (the openssl package)");
    assert!(status.success(), "openssl req failed: {status}");
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .expect("setting permissions");
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
