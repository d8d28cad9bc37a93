//! Mutual TLS as Crossplane uses it: a certificate directory with an RSA PKCS#1 key, client
//! certificates required, and a refusal to start without either TLS or `--insecure`.

mod harness;

use function_event_driven_service::{function, proto::v1::RunFunctionResponse};
use harness::{
    command, config_from_flags, request, run_to_exit, scratch_dir, v1_client, write, Pki, Process,
    TestServer,
};
use std::{net::SocketAddr, time::Duration};
use tonic::{
    transport::{Certificate, ClientTlsConfig, Endpoint, Identity},
    Status,
};

/// How a test client connects.
#[derive(Debug, Clone, Copy)]
enum Client {
    Plaintext,
    TlsWithoutCertificate,
    CertificateFromAnotherCa,
    CertificateFromTheCa,
}

/// Makes one RunFunction call as `client` would.
async fn call(addr: SocketAddr, client: Client) -> Result<RunFunctionResponse, Status> {
    let pki = Pki::get();
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    let endpoint = match client {
        Client::Plaintext => Endpoint::from_shared(format!("http://{addr}")),
        _ => Endpoint::from_shared(format!("https://{addr}")),
    }
    .expect("valid URL");
    let identity = match client {
        Client::Plaintext | Client::TlsWithoutCertificate => None,
        Client::CertificateFromAnotherCa => Some((&pki.stranger_cert_pem, &pki.stranger_key_pem)),
        Client::CertificateFromTheCa => Some((&pki.client_cert_pem, &pki.client_key_pem)),
    };
    let endpoint = match (client, identity) {
        (Client::Plaintext, _) => endpoint,
        (_, None) => endpoint.tls_config(tls).expect("client TLS configuration"),
        (_, Some((cert, key))) => endpoint
            .tls_config(tls.identity(Identity::from_pem(cert, key)))
            .expect("client TLS configuration"),
    };
    // Lazy: a refused handshake surfaces as the call's error, whichever side ends it.
    v1_client(endpoint.connect_lazy())
        .run_function(request("over-tls"))
        .await
        .map(tonic::Response::into_inner)
}

fn expected() -> RunFunctionResponse {
    function::run(&request("over-tls"), Duration::from_secs(60)).expect("well-formed request")
}

/// Asserts which clients the server at `addr` serves: only the one with a certificate from the CA.
async fn assert_only_ca_clients_served(addr: SocketAddr, context: &str) {
    let cases = [
        (
            Client::Plaintext,
            false,
            "plaintext gRPC must not reach the function",
        ),
        (
            Client::TlsWithoutCertificate,
            false,
            "client certificates are required",
        ),
        (
            Client::CertificateFromAnotherCa,
            false,
            "only ca.crt may vouch for clients",
        ),
        (
            Client::CertificateFromTheCa,
            true,
            "Crossplane's client certificate",
        ),
    ];
    for (client, served, reason) in cases {
        let result = call(addr, client).await;
        if served {
            let rsp = result.unwrap_or_else(|status| {
                panic!("{context}: {client:?} must be served ({reason}): {status:?}")
            });
            assert_eq!(rsp, expected(), "{context}: {client:?}: whole response");
        } else {
            assert!(
                result.is_err(),
                "{context}: {client:?} must be refused ({reason})"
            );
        }
    }
}

#[tokio::test]
async fn mutual_tls_serves_only_clients_with_a_certificate_from_the_ca() {
    let pki = Pki::get();
    assert!(
        pki.server_key_pem()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "the server key is PKCS#1, as Crossplane writes it"
    );
    let dir = pki.server_dir.to_str().expect("UTF-8 path");
    let server = TestServer::start(config_from_flags(&["--tls-certs-dir", dir])).await;
    assert_only_ca_clients_served(server.addr, "in-process server").await;
    server.stop().await.expect("clean shutdown");
}

// Multi-threaded: the process helpers block while the client connection keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_server_certs_dir_alone_starts_a_mutual_tls_server() {
    let pki = Pki::get();
    let process = Process::start(&["--address", "127.0.0.1:0"], Some(&pki.server_dir));
    assert_eq!(process.startup["tls"], true, "start-up log says TLS is on");
    assert_only_ca_clients_served(process.addr, "TLS_SERVER_CERTS_DIR").await;
}

// Multi-threaded: the process helpers block while the client connection keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_wins_over_a_certs_dir() {
    let pki = Pki::get();
    let process = Process::start(
        &["--insecure", "--address", "127.0.0.1:0"],
        Some(&pki.server_dir),
    );
    assert_eq!(
        process.startup["tls"], false,
        "start-up log says TLS is off"
    );
    let rsp = call(process.addr, Client::Plaintext)
        .await
        .expect("plaintext served with --insecure");
    assert_eq!(rsp, expected());
}

#[test]
fn without_tls_material_or_insecure_the_binary_refuses_to_start() {
    let (status, stderr) = run_to_exit(command(&["--address", "127.0.0.1:0"], None));
    assert_eq!(status.code(), Some(2), "exit code; stderr: {stderr}");
    for hint in ["--tls-certs-dir", "TLS_SERVER_CERTS_DIR", "--insecure"] {
        assert!(stderr.contains(hint), "stderr names {hint}: {stderr}");
    }
}

/// One way to break a good certificate directory.
enum Spoil {
    Remove(&'static str),
    Overwrite(&'static str, String),
}

/// Copies the good PKI into a fresh directory, then breaks it.
fn spoiled_certs_dir(name: &str, spoil: &Spoil) -> std::path::PathBuf {
    let pki = Pki::get();
    let dir = scratch_dir(name);
    for file in ["tls.crt", "tls.key", "ca.crt"] {
        std::fs::copy(pki.server_dir.join(file), dir.join(file)).expect("copy PKI file");
    }
    match spoil {
        Spoil::Remove(file) => std::fs::remove_file(dir.join(file)).expect("remove PKI file"),
        Spoil::Overwrite(file, text) => write(&dir.join(file), text),
    }
    dir
}

#[test]
fn unusable_tls_files_stop_start_up_with_a_message_naming_them() {
    struct Case {
        name: &'static str,
        spoil: Spoil,
        named: &'static str,
        reason: &'static str,
    }
    let pki = Pki::get();
    let cases = [
        Case {
            name: "missing-key",
            spoil: Spoil::Remove("tls.key"),
            named: "tls.key",
            reason: "a missing key is named",
        },
        Case {
            name: "missing-cert",
            spoil: Spoil::Remove("tls.crt"),
            named: "tls.crt",
            reason: "a missing certificate is named",
        },
        Case {
            name: "missing-ca",
            spoil: Spoil::Remove("ca.crt"),
            named: "ca.crt",
            reason: "without ca.crt no client can be verified",
        },
        Case {
            name: "garbage-key",
            spoil: Spoil::Overwrite("tls.key", "not a key".to_string()),
            named: "tls.key",
            reason: "a file that is not PEM is named",
        },
        Case {
            name: "empty-ca",
            spoil: Spoil::Overwrite("ca.crt", String::new()),
            named: "ca.crt",
            reason: "an empty CA bundle is named",
        },
        Case {
            name: "mismatched-key",
            spoil: Spoil::Overwrite("tls.key", pki.client_key_pem.clone()),
            named: "cannot set up mutual TLS",
            reason: "a key that does not belong to tls.crt is caught before serving",
        },
    ];
    for case in cases {
        let dir = spoiled_certs_dir(case.name, &case.spoil);
        let (status, stderr) = run_to_exit(command(&["--address", "127.0.0.1:0"], Some(&dir)));
        let label = format!("{} ({})", case.name, case.reason);
        assert_eq!(status.code(), Some(2), "{label}: stderr: {stderr}");
        assert!(
            stderr.contains(case.named),
            "{label}: stderr names {}: {stderr}",
            case.named
        );
    }
}
