//! The files of a mutual-TLS directory, as Crossplane's function runtime mounts them. Both the
//! reader of the directory and the startup error that asks for it name them.

/// Certificate file of the server in a TLS directory.
pub const TLS_CERT_FILE: &str = "tls.crt";
/// Private key file of the server in a TLS directory.
pub const TLS_KEY_FILE: &str = "tls.key";
/// CA bundle that client certificates must chain to.
pub const TLS_CA_FILE: &str = "ca.crt";
