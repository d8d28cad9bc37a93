//! The worker container's probes: today's HTTP checks on the worker's port unless the claim
//! says otherwise, field by field.

use crate::api::spec::{ProbeSpec, Spec};
use k8s_openapi::{
    api::core::v1::{ExecAction, GRPCAction, HTTPGetAction, Probe, TCPSocketAction},
    apimachinery::pkg::util::intstr::IntOrString,
};

/// The defaults of one probe: its HTTP path and timings (initial delay, period, timeout,
/// failures).
struct Default {
    path: &'static str,
    timings: Option<[i32; 4]>,
}

/// Liveness: `/health`, unless changed or turned off.
pub fn liveness(spec: &Spec) -> Option<Probe> {
    let default = Default {
        path: "/health",
        timings: Some([10, 10, 5, 3]),
    };
    build(spec, spec.probes.liveness.as_ref(), &default, true)
}

/// Readiness: `/ready`, unless changed or turned off.
pub fn readiness(spec: &Spec) -> Option<Probe> {
    let default = Default {
        path: "/ready",
        timings: Some([5, 5, 3, 2]),
    };
    build(spec, spec.probes.readiness.as_ref(), &default, true)
}

/// Startup: none unless set; its handler defaults to the liveness default's.
pub fn startup(spec: &Spec) -> Option<Probe> {
    let default = Default {
        path: "/health",
        timings: None,
    };
    build(spec, spec.probes.startup.as_ref(), &default, false)
}

fn build(
    spec: &Spec,
    given: Option<&ProbeSpec>,
    default: &Default,
    on_by_default: bool,
) -> Option<Probe> {
    let given = match given {
        Some(probe) if probe.enabled == Some(false) => return None,
        Some(probe) => probe.clone(),
        None if on_by_default => ProbeSpec::default(),
        None => return None,
    };
    let port = |p: Option<i32>| p.unwrap_or(spec.port);
    let mut probe = Probe {
        initial_delay_seconds: given.initial_delay_seconds,
        period_seconds: given.period_seconds,
        timeout_seconds: given.timeout_seconds,
        success_threshold: given.success_threshold,
        failure_threshold: given.failure_threshold,
        ..Probe::default()
    };
    if let Some([delay, period, timeout, failures]) = default.timings {
        probe.initial_delay_seconds.get_or_insert(delay);
        probe.period_seconds.get_or_insert(period);
        probe.timeout_seconds.get_or_insert(timeout);
        probe.failure_threshold.get_or_insert(failures);
    }
    if let Some(exec) = given.exec {
        probe.exec = Some(ExecAction {
            command: Some(exec.command),
        });
    } else if let Some(tcp) = given.tcp_socket {
        probe.tcp_socket = Some(TCPSocketAction {
            port: IntOrString::Int(port(tcp.port)),
            ..TCPSocketAction::default()
        });
    } else if let Some(grpc) = given.grpc {
        probe.grpc = Some(GRPCAction {
            port: port(grpc.port),
            service: grpc.service,
        });
    } else {
        let http = given.http_get.unwrap_or_default();
        probe.http_get = Some(HTTPGetAction {
            path: Some(http.path.unwrap_or_else(|| default.path.to_string())),
            port: IntOrString::Int(port(http.port)),
            ..HTTPGetAction::default()
        });
    }
    Some(probe)
}
