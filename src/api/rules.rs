//! Every rule an EventDrivenService spec must satisfy, each reported with its field path.
//!
//! The XRD states the same rules for the API server; a test keeps the two in step.

use crate::{
    api::field_error::FieldError,
    api::fields::{
        check_max_items, check_max_len, check_pattern, object, object_ignoring, Errors, Object,
    },
    document::tree::Tree,
};
use regex::Regex;
use std::{collections::BTreeMap, sync::LazyLock};

/// An image reference with a tag, a digest or both; a bare repository is refused because
/// it silently means `:latest`.
pub const IMAGE_PATTERN: &str = r"^(?:[a-zA-Z0-9][a-zA-Z0-9.-]*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:@sha256:[a-f0-9]{64})?|@sha256:[a-f0-9]{64})$";
/// A DNS-1123 subdomain: what Secret names must be.
pub const DNS1123_SUBDOMAIN_PATTERN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// Longest DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX: usize = 253;
/// A C identifier: what a portable environment variable name must be.
pub const ENV_NAME_PATTERN: &str = r"^[A-Za-z_][A-Za-z0-9_]*$";
/// Longest environment variable name. This bound, and the two list bounds below, keep the
/// API server's cost estimate of the XRD's CEL rule on `envName` under its per-rule limit;
/// without them it refuses the CRDs Crossplane generates.
pub const ENV_NAME_MAX: usize = 128;
/// Most entries in `secretRefs`.
pub const MAX_SECRET_REFS: usize = 64;
/// Most keys in one `secretRefs[].env`.
pub const MAX_SECRET_KEYS: usize = 128;
/// A JetStream stream or consumer name: no whitespace, `.`, `*`, `>` or path separators.
pub const NATS_NAME_PATTERN: &str = r"^[^\s.*>/\\]+$";
/// A key inside a Secret.
pub const SECRET_KEY_PATTERN: &str = r"^[-._a-zA-Z0-9]+$";
/// One or more comma-separated NATS server URLs.
pub const NATS_URL_PATTERN: &str = r"^(nats|tls|ws|wss)://[^\s,]+(,(nats|tls|ws|wss)://[^\s,]+)*$";
/// `host:port` of the NATS monitoring port, without a scheme.
pub const HOST_PORT_PATTERN: &str = r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:[0-9]{1,5}$";
/// Environment variables the function sets itself; secrets may not shadow them.
pub const RESERVED_ENV: [&str; 3] = ["NATS_URL", "NATS_STREAM_NAME", "NATS_CONSUMER_GROUP"];

fn compiled(pattern: &str) -> Regex {
    // The patterns are constants covered by unit tests, so this cannot fail at run time.
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("constant pattern {pattern:?}: {e}"))
}

static IMAGE: LazyLock<Regex> = LazyLock::new(|| compiled(IMAGE_PATTERN));
static DNS1123_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| compiled(DNS1123_SUBDOMAIN_PATTERN));
static ENV_NAME: LazyLock<Regex> = LazyLock::new(|| compiled(ENV_NAME_PATTERN));
static NATS_NAME: LazyLock<Regex> = LazyLock::new(|| compiled(NATS_NAME_PATTERN));
static SECRET_KEY: LazyLock<Regex> = LazyLock::new(|| compiled(SECRET_KEY_PATTERN));
static NATS_URL: LazyLock<Regex> = LazyLock::new(|| compiled(NATS_URL_PATTERN));
static HOST_PORT: LazyLock<Regex> = LazyLock::new(|| compiled(HOST_PORT_PATTERN));

const SPEC_FIELDS: &[&str] = &[
    "image",
    "size",
    "nats",
    "secret1Name",
    "secret2Name",
    "secret3Name",
    "secret4Name",
    "secret5Name",
    "secretRefs",
    "imagePullSecrets",
    "initContainer",
    "scaling",
];
/// Fields Crossplane itself adds to a claim's or XR's spec; ours to ignore, not to refuse.
pub const CROSSPLANE_SPEC_FIELDS: &[&str] = &[
    "claimRef",
    "compositionRef",
    "compositionRevisionRef",
    "compositionRevisionSelector",
    "compositionSelector",
    "compositionUpdatePolicy",
    "compositeDeletePolicy",
    "crossplane",
    "environmentConfigRefs",
    "publishConnectionDetailsTo",
    "resourceRef",
    "resourceRefs",
    "writeConnectionSecretToRef",
];
const SIZES: [&str; 3] = ["small", "medium", "large"];

/// Checks a whole spec; `Ok` means `serde` will accept it.
pub fn spec<N: Tree>(value: &N) -> Result<(), Vec<FieldError>> {
    let mut errors = Errors::default();
    if value.is_null() {
        errors.push("spec", "required");
        return errors.finish(|| ());
    }
    if let Some(spec) = object_ignoring(
        value,
        "spec",
        SPEC_FIELDS,
        CROSSPLANE_SPEC_FIELDS,
        &mut errors,
    ) {
        check_spec(&spec, &mut errors);
    }
    errors.finish(|| ())
}

fn check_spec<N: Tree>(spec: &Object<'_, N>, errors: &mut Errors) {
    if let Some(image) = spec.required_string("image", errors) {
        check_pattern(
            image,
            &IMAGE,
            &spec.path_of("image"),
            "an image reference with a tag or digest, like `ghcr.io/org/app:v1.2.3` or `ghcr.io/org/app@sha256:<64 hex digits>`",
            errors,
        );
    }
    if let Some(size) = spec.string("size", errors) {
        if !SIZES.contains(&size) {
            errors.push(
                spec.path_of("size"),
                format!("must be one of {} (got {size:?})", SIZES.join(", ")),
            );
        }
    }
    if let Some(nats) = spec.required("nats", errors) {
        check_nats(nats, &spec.path_of("nats"), errors);
    }

    // Every variable the containers get, with the field that set it, to catch duplicates.
    let mut env: BTreeMap<String, String> = RESERVED_ENV
        .iter()
        .map(|n| (n.to_string(), "the function itself".to_string()))
        .collect();
    let mut whole: BTreeMap<String, String> = BTreeMap::new();
    for slot in 1..=5 {
        let key = format!("secret{slot}Name");
        if let Some(name) = spec.string(&key, errors) {
            let path = spec.path_of(&key);
            if secret_name(name, &path, errors) {
                mount_whole(name, path, &mut whole, errors);
            }
        }
    }
    if let Some(refs) = spec.list("secretRefs", errors) {
        let base = spec.path_of("secretRefs");
        check_max_items(refs, MAX_SECRET_REFS, &base, errors);
        for (i, item) in refs.iter().enumerate() {
            check_secret_ref(item, &format!("{base}[{i}]"), &mut env, &mut whole, errors);
        }
    }
    if let Some(pulls) = spec.list("imagePullSecrets", errors) {
        let base = spec.path_of("imagePullSecrets");
        let mut seen = BTreeMap::new();
        for (i, item) in pulls.iter().enumerate() {
            let path = format!("{base}[{i}]");
            let Some(pull) = object(item, &path, &["name"], errors) else {
                continue;
            };
            if let Some(name) = pull.required_string("name", errors) {
                let path = pull.path_of("name");
                if secret_name(name, &path, errors) {
                    unique(name, path, "image pull secret", &mut seen, errors);
                }
            }
        }
    }
    if let Some(init) = spec.get("initContainer") {
        let path = spec.path_of("initContainer");
        if let Some(init) = object(init, &path, &["command", "args"], errors) {
            init.strings("command", errors);
            init.strings("args", errors);
            let unset = |key| {
                init.get(key)
                    .is_none_or(|v| v.as_list().is_some_and(<[N]>::is_empty))
            };
            if unset("command") && unset("args") {
                errors.push(
                    path,
                    "set `command` or `args`: without them the init container would run the worker itself",
                );
            }
        }
    }
    if let Some(scaling) = spec.get("scaling") {
        check_scaling(scaling, &spec.path_of("scaling"), errors);
    }
}

fn check_nats<N: Tree>(value: &N, path: &str, errors: &mut Errors) {
    let fields = [
        "url",
        "stream",
        "consumer",
        "monitoringEndpoint",
        "account",
        "accountID",
        "useHttps",
    ];
    let Some(nats) = object(value, path, &fields, errors) else {
        return;
    };
    for key in ["stream", "consumer"] {
        if let Some(name) = nats.required_string(key, errors) {
            check_pattern(
                name,
                &NATS_NAME,
                &nats.path_of(key),
                "a JetStream name without whitespace, `.`, `*`, `>` or slashes",
                errors,
            );
        }
    }
    if let Some(url) = nats.string("url", errors) {
        check_nats_url(url, &nats.path_of("url"), errors);
    }
    if let Some(endpoint) = nats.string("monitoringEndpoint", errors) {
        check_monitoring_endpoint(endpoint, &nats.path_of("monitoringEndpoint"), errors);
    }
    nats.string("account", errors);
    nats.string("accountID", errors);
    nats.boolean("useHttps", errors);
}

/// A NATS client URL: one or more comma-separated `scheme://host[:port]` servers.
pub fn check_nats_url(url: &str, path: &str, errors: &mut Errors) {
    if !NATS_URL.is_match(url) {
        errors.push(
            path,
            format!("must be a NATS URL like nats://nats.nats.svc:4222 (schemes nats, tls, ws, wss; got {url:?})"),
        );
    }
}

/// The scaler's monitoring endpoint: `host:port`, no scheme.
pub fn check_monitoring_endpoint(endpoint: &str, path: &str, errors: &mut Errors) {
    check_pattern(
        endpoint,
        &HOST_PORT,
        path,
        "host:port of the NATS monitoring port without a scheme, like nats-headless.nats.svc.cluster.local:8222",
        errors,
    );
}

fn check_secret_ref<N: Tree>(
    item: &N,
    path: &str,
    env: &mut BTreeMap<String, String>,
    whole: &mut BTreeMap<String, String>,
    errors: &mut Errors,
) {
    let Some(secret) = object(item, path, &["name", "envFrom", "env"], errors) else {
        return;
    };
    let name = secret
        .required_string("name", errors)
        .filter(|name| secret_name(name, &secret.path_of("name"), errors));
    let env_from = secret.boolean("envFrom", errors);
    let keys = secret.list("env", errors);
    match (env_from == Some(true), keys.is_some_and(|k| !k.is_empty())) {
        (true, true) => errors.push(
            path,
            "set either `envFrom: true` (every key) or `env` (chosen keys), not both",
        ),
        (false, false) => errors.push(
            path,
            "set `envFrom: true` to mount every key, or list chosen keys under `env`",
        ),
        (true, false) => {
            if let Some(name) = name {
                mount_whole(name, secret.path_of("name"), whole, errors);
            }
        }
        (false, true) => {}
    }
    let base = secret.path_of("env");
    if let Some(keys) = keys {
        check_max_items(keys, MAX_SECRET_KEYS, &base, errors);
    }
    for (i, key) in keys.unwrap_or_default().iter().enumerate() {
        let path = format!("{base}[{i}]");
        let Some(key) = object(key, &path, &["secretKey", "envName"], errors) else {
            continue;
        };
        if let Some(secret_key) = key.required_string("secretKey", errors) {
            let path = key.path_of("secretKey");
            if check_pattern(
                secret_key,
                &SECRET_KEY,
                &path,
                "a Secret key (letters, digits, `-`, `_`, `.`)",
                errors,
            ) {
                check_max_len(secret_key, DNS1123_SUBDOMAIN_MAX, &path, errors);
            }
        }
        if let Some(env_name) = key.required_string("envName", errors) {
            let path = key.path_of("envName");
            if check_pattern(
                env_name,
                &ENV_NAME,
                &path,
                "a C identifier (letters, digits and `_`, not starting with a digit)",
                errors,
            ) && check_max_len(env_name, ENV_NAME_MAX, &path, errors)
            {
                unique(env_name, path, "environment variable", env, errors);
            }
        }
    }
}

/// Records a Secret mounted whole, refusing the same Secret twice.
fn mount_whole(
    name: &str,
    path: String,
    whole: &mut BTreeMap<String, String>,
    errors: &mut Errors,
) {
    unique(name, path, "secret mounted with envFrom", whole, errors);
}

/// Records `value` at `path`, or reports where it was already used.
fn unique(
    value: &str,
    path: String,
    what: &str,
    seen: &mut BTreeMap<String, String>,
    errors: &mut Errors,
) {
    if let Some(first) = seen.get(value) {
        errors.push(
            path,
            format!("duplicate {what} {value:?} (already set by {first})"),
        );
    } else {
        seen.insert(value.to_string(), path);
    }
}

/// Checks a Secret name; `true` when it is valid.
fn secret_name(name: &str, path: &str, errors: &mut Errors) -> bool {
    check_pattern(
        name,
        &DNS1123_SUBDOMAIN,
        path,
        "a DNS-1123 subdomain (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)",
        errors,
    ) && check_max_len(name, DNS1123_SUBDOMAIN_MAX, path, errors)
}

fn check_scaling<N: Tree>(value: &N, path: &str, errors: &mut Errors) {
    let fields = [
        "minReplicas",
        "maxReplicas",
        "lagThreshold",
        "activationLagThreshold",
        "pollingInterval",
        "cooldownPeriod",
    ];
    let Some(scaling) = object(value, path, &fields, errors) else {
        return;
    };
    let i32_max = i64::from(i32::MAX);
    let min = scaling.integer("minReplicas", 0, i32_max, errors);
    let max = scaling.integer("maxReplicas", 1, i32_max, errors);
    scaling.integer("lagThreshold", 1, i64::MAX, errors);
    scaling.integer("activationLagThreshold", 0, i64::MAX, errors);
    scaling.integer("pollingInterval", 1, i32_max, errors);
    scaling.integer("cooldownPeriod", 0, i32_max, errors);
    let min = min.or_else(|| scaling.get("minReplicas").is_none().then_some(1));
    let max = max.or_else(|| scaling.get("maxReplicas").is_none().then_some(10));
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            errors.push(
                scaling.path_of("minReplicas"),
                format!(
                    "must not exceed {} ({min} > {max})",
                    scaling.path_of("maxReplicas")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for p in [
            IMAGE_PATTERN,
            DNS1123_SUBDOMAIN_PATTERN,
            ENV_NAME_PATTERN,
            NATS_NAME_PATTERN,
            SECRET_KEY_PATTERN,
            HOST_PORT_PATTERN,
            NATS_URL_PATTERN,
        ] {
            assert!(Regex::new(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn image_references_need_a_tag_or_digest() {
        let digest = format!("@sha256:{}", "a".repeat(64));
        let cases = [
            ("ghcr.io/org/app:v1.0.0", true),
            ("nginx:1.25", true),
            ("localhost:5000/team/app:latest", true),
            (&*format!("ghcr.io/org/app{digest}"), true),
            (&*format!("ghcr.io/org/app:v1{digest}"), true),
            ("ghcr.io/org/app", false),
            ("Ghcr.io/Org/App:v1", false),
            ("app:", false),
            ("app@sha256:abc", false),
            ("app:v1 ", false),
        ];
        for (image, ok) in cases {
            assert_eq!(IMAGE.is_match(image), ok, "{image}");
        }
    }
}
