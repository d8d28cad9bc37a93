//! Shared helpers of the gRPC, mTLS and shutdown tests: requests, in-process servers, the binary
//! as a child process, and a throw-away PKI.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

#[path = "../../benches/requests/mod.rs"]
mod requests;

mod raw_codec;

pub use raw_codec::RawCodec;
pub use requests::{minimal_xr, resource};

use bytes::Bytes;
use clap::Parser;
use function_event_driven_service::{
    cli::Cli,
    document::convert::json_to_struct,
    proto::v1::{
        function_runner_service_client::FunctionRunnerServiceClient, Resource, RunFunctionRequest,
        State,
    },
    server::{serve, ServeError, ServerConfig},
};
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        mpsc::{self, Receiver, RecvTimeoutError},
        OnceLock,
    },
    time::Duration,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{
    transport::{Channel, Endpoint},
    Status,
};

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_function-event-driven-service");

/// gRPC path of RunFunction in the v1 package.
pub const V1_RUN_FUNCTION: &str = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction";

/// gRPC path of RunFunction in the v1beta1 package.
pub const V1BETA1_RUN_FUNCTION: &str =
    "/apiextensions.fn.proto.v1beta1.FunctionRunnerService/RunFunction";

/// Largest response a test client accepts: above gRPC's 4 MiB default, as the big-state tests need.
pub const CLIENT_MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Upper bound on waiting for the child process: a hang fails the test instead of stalling it.
const PROCESS_GUARD: Duration = Duration::from_secs(120);

/// A steady reconcile of the full claim: every resource observed, as the load generator sends.
pub fn steady_reconcile() -> RunFunctionRequest {
    requests::Case::Observed(2).request()
}

/// A minimal valid request for [`minimal_xr`], as Crossplane sends it to the first pipeline step.
pub fn request(tag: &str) -> RunFunctionRequest {
    requests::request(tag, &minimal_xr())
}

/// [`request`] as a later pipeline step sees it: an earlier step left desired state and context.
pub fn request_after_earlier_step(tag: &str) -> RunFunctionRequest {
    let mut req = request(tag);
    req.desired = Some(State {
        composite: Some(resource(&json!({
            "apiVersion": "platform.bizmatters.io/v1alpha1",
            "kind": "XEventDrivenService",
            "status": {"phase": "from-earlier-step"},
        }))),
        resources: BTreeMap::from([(
            "earlier-configmap".to_string(),
            Resource {
                resource: Some(json_to_struct(&json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "data": {"owner": "earlier-step"},
                }))),
                connection_details: BTreeMap::from([("token".to_string(), b"s3cr3t".to_vec())]),
                ready: 1,
            },
        )]),
    });
    req.context = Some(json_to_struct(
        &json!({"apiextensions.crossplane.io/environment": {"region": "eu-west-1"}}),
    ));
    req
}

/// The server configuration the binary would use for `--insecure` and no other flag.
pub fn insecure_config() -> ServerConfig {
    config_from_flags(&["--insecure"])
}

/// The server configuration the binary would use for `flags`.
pub fn config_from_flags(flags: &[&str]) -> ServerConfig {
    let args = std::iter::once("function-event-driven-service").chain(flags.iter().copied());
    let cli = Cli::try_parse_from(args).expect("test flags parse");
    ServerConfig::from_args(&cli.serve).expect("test flags make a valid configuration")
}

/// A server running in this test process on an ephemeral loopback port.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and serves that very listener, so no other process can take the port.
    pub async fn start(config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve(listener, &config, async {
                let _ = stop.await;
            })
            .await
        });
        Self {
            addr,
            shutdown: Some(shutdown),
            task,
        }
    }

    /// `http://` URL of the server.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A plaintext channel to the server.
    pub async fn channel(&self) -> Channel {
        Endpoint::from_shared(self.url())
            .expect("valid URL")
            .connect()
            .await
            .expect("connect to the test server")
    }

    /// Shuts the server down gracefully and returns how `serve` ended.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        (&mut self.task).await.expect("server task did not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A v1 client that accepts big responses.
pub fn v1_client(channel: Channel) -> FunctionRunnerServiceClient<Channel> {
    FunctionRunnerServiceClient::new(channel)
        .max_decoding_message_size(CLIENT_MAX_MESSAGE_SIZE)
        .max_encoding_message_size(CLIENT_MAX_MESSAGE_SIZE)
}

/// A v1beta1 client that accepts big responses.
pub fn v1beta1_client(
    channel: Channel,
) -> function_event_driven_service::proto::v1beta1::function_runner_service_client::FunctionRunnerServiceClient<Channel>{
    function_event_driven_service::proto::v1beta1::function_runner_service_client::FunctionRunnerServiceClient::new(channel)
        .max_decoding_message_size(CLIENT_MAX_MESSAGE_SIZE)
        .max_encoding_message_size(CLIENT_MAX_MESSAGE_SIZE)
}

/// Calls `path` with `body` as the raw message bytes.
pub async fn call_raw(
    channel: Channel,
    path: &'static str,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.unary(
        tonic::Request::new(Bytes::from(body)),
        http::uri::PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(|answer| Vec::from(answer.into_inner()))
}

/// The binary running as a child process.
///
/// Its waits block the calling thread: async tests that also hold client connections use a
/// multi-threaded runtime, so those connections keep answering the server (e.g. its shutdown
/// PING) meanwhile.
pub struct Process {
    /// `None` once [`Process::wait`] took it.
    child: Option<Child>,
    /// Where it listens, read from its start-up log line.
    pub addr: SocketAddr,
    /// Its start-up log line.
    pub startup: Value,
    lines: Receiver<String>,
}

/// Starts the binary with `args`, with `TLS_SERVER_CERTS_DIR` set only if `certs_dir` is given.
pub fn command(args: &[&str], certs_dir: Option<&Path>) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.args(args)
        .env_remove("TLS_SERVER_CERTS_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(dir) = certs_dir {
        cmd.env("TLS_SERVER_CERTS_DIR", dir);
    }
    cmd
}

impl Process {
    /// Starts the binary and waits for its start-up log line, which names the bound address
    /// (so tests can pass `--address 127.0.0.1:0` and never guess a free port).
    pub fn start(args: &[&str], certs_dir: Option<&Path>) -> Self {
        let mut child = command(args, certs_dir).spawn().expect("start the binary");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        // Keeps draining stderr for the whole run, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut process = Self {
            child: Some(child),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            startup: Value::Null,
            lines,
        };
        let startup = process.wait_for_log("serving");
        process.addr = startup["address"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("start-up line names no address: {startup}"));
        process.startup = startup;
        process
    }

    /// Waits for the JSON log line whose message is `message` and returns it.
    pub fn wait_for_log(&mut self, message: &str) -> Value {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(PROCESS_GUARD) {
                Ok(line) => {
                    let parsed: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|_| panic!("log line is not JSON: {line}"));
                    if parsed["message"] == message {
                        return parsed;
                    }
                    seen.push(line);
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the binary closed stderr before logging {message:?}; it logged:\n{}",
                    seen.join("\n")
                ),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "the binary did not log {message:?}; it logged:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    /// The rest of the log once stderr closes.
    pub fn remaining_log(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        loop {
            match self.lines.recv_timeout(PROCESS_GUARD) {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => return rest,
                Err(RecvTimeoutError::Timeout) => panic!("the binary did not close stderr"),
            }
        }
    }

    fn pid(&self) -> u32 {
        // Never 0: `kill 0` would signal the whole process group, test runner included.
        self.child
            .as_ref()
            .map(Child::id)
            .expect("the binary was not waited for yet")
    }

    /// Sends `signal` (`TERM`, `INT`) through the shell's `kill`, keeping the crate free of
    /// `unsafe` FFI.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("sh")
            .args(["-c", "kill -s \"$1\" \"$2\"", "sh", signal])
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} failed: {status}");
    }

    /// Waits for the process to exit, with a guard against hangs.
    pub fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the binary is still owned");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        rx.recv_timeout(PROCESS_GUARD)
            .expect("the binary exits by itself")
            .expect("wait for the binary")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Runs the binary to completion with a guard against hangs; returns its exit status and stderr.
pub fn run_to_exit(mut cmd: Command) -> (ExitStatus, String) {
    let child = cmd.spawn().expect("start the binary");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx
        .recv_timeout(PROCESS_GUARD)
        .expect("the binary exits by itself")
        .expect("collect the binary's output");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A throw-away PKI in PEM files: one CA, a server and a client it signed, and a client signed
/// by a second, unrelated CA. Keys are RSA-2048 in PKCS#1, as Crossplane writes them.
pub struct Pki {
    /// Holds `tls.crt`, `tls.key` and `ca.crt`: what the server reads.
    pub server_dir: PathBuf,
    /// The CA certificate.
    pub ca_pem: String,
    /// The client certificate signed by the CA.
    pub client_cert_pem: String,
    /// The client's key.
    pub client_key_pem: String,
    /// A client certificate from another CA.
    pub stranger_cert_pem: String,
    /// That client's key.
    pub stranger_key_pem: String,
}

struct RsaKey {
    pkcs1_pem: String,
    pair: rcgen::KeyPair,
}

fn rsa_key() -> RsaKey {
    use rsa::pkcs1::{EncodeRsaPrivateKey, LineEnding};
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("generate RSA key");
    let pkcs8 = key.to_pkcs8_der().expect("encode PKCS#8");
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes().to_vec());
    RsaKey {
        pkcs1_pem: key
            .to_pkcs1_pem(LineEnding::LF)
            .expect("encode PKCS#1")
            .to_string(),
        pair: rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)
            .expect("RSA key pair"),
    }
}

fn ca(name: &str) -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyUsagePurpose};
    let key = rsa_key();
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key.pair).expect("self-sign CA");
    (cert.pem(), rcgen::Issuer::new(params, key.pair))
}

fn leaf(
    name: &str,
    sans: &[&str],
    usage: rcgen::ExtendedKeyUsagePurpose,
    issuer: &rcgen::Issuer<'static, rcgen::KeyPair>,
) -> (String, String) {
    use rcgen::{CertificateParams, DnType, KeyUsagePurpose};
    let key = rsa_key();
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(sans).expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key.pair, issuer).expect("sign leaf");
    (cert.pem(), key.pkcs1_pem)
}

impl Pki {
    /// The PKI of this test binary, generated on first use (RSA key generation is slow).
    pub fn get() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(Pki::generate)
    }

    fn generate() -> Pki {
        use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        let (ca_pem, issuer) = ca("function test CA");
        let (server_cert, server_key) =
            leaf("function", &["localhost", "127.0.0.1"], ServerAuth, &issuer);
        let (client_cert_pem, client_key_pem) = leaf("crossplane", &[], ClientAuth, &issuer);
        let (_, stranger_issuer) = ca("unrelated CA");
        let (stranger_cert_pem, stranger_key_pem) =
            leaf("crossplane", &[], ClientAuth, &stranger_issuer);

        let server_dir = scratch_dir("pki");
        write(&server_dir.join("tls.crt"), &server_cert);
        write(&server_dir.join("tls.key"), &server_key);
        write(&server_dir.join("ca.crt"), &ca_pem);
        Pki {
            server_dir,
            ca_pem,
            client_cert_pem,
            client_key_pem,
            stranger_cert_pem,
            stranger_key_pem,
        }
    }

    /// The server's private key file as written.
    pub fn server_key_pem(&self) -> String {
        std::fs::read_to_string(self.server_dir.join("tls.key")).expect("read tls.key")
    }
}

/// A fresh directory under Cargo's per-target scratch space, unique to this process and `name`.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Writes `text` to `path`.
pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
