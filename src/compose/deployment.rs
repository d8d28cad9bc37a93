//! The Deployment: the worker container `main`, an optional init container `init` with the
//! same image and environment, hardened security contexts and the health probes.
//!
//! It sets no `replicas`: KEDA's HPA owns the count, and a fixed value would be reapplied on
//! every sync and undo its scaling.

use super::{pod, probes, Labels, HTTP_PORT_NAME};
use crate::{
    api::chosen_grace_period,
    api::input::{Resources, Settings},
    api::placement::Placement,
    api::spec::Spec,
};
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{
            Capabilities, ConfigMapEnvSource, ConfigMapKeySelector, Container, ContainerPort,
            EnvFromSource, EnvVar, EnvVarSource, LocalObjectReference, PodSecurityContext, PodSpec,
            PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretEnvSource,
            SecretKeySelector, SecurityContext,
        },
    },
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{LabelSelector, ObjectMeta},
    },
};
use std::collections::BTreeMap;

/// The uid and gid the worker runs as.
const RUN_AS: i64 = 1000;

/// Builds the Deployment.
pub fn build(
    spec: &Spec,
    settings: &Settings,
    placement: &Placement,
    labels: &Labels,
    config_hash: Option<&str>,
) -> Deployment {
    let env = env(spec, settings);
    let env_from = env_from(spec);
    let resources = resources(settings.sizes.get(spec.size));
    let read_only = spec
        .read_only_root_filesystem
        .unwrap_or(settings.defaults.read_only_root_filesystem);
    let (volumes, mounts) = pod::volumes(spec, settings);
    let main = Container {
        name: "main".into(),
        image: Some(spec.image.clone()),
        command: non_empty(&spec.command),
        args: non_empty(&spec.args),
        ports: spec.service.enabled.then(|| {
            vec![ContainerPort {
                name: Some(HTTP_PORT_NAME.into()),
                container_port: spec.port,
                ..Default::default()
            }]
        }),
        env: Some(env.clone()),
        env_from: env_from.clone(),
        resources: Some(resources.clone()),
        security_context: Some(container_security(read_only)),
        liveness_probe: probes::liveness(spec),
        readiness_probe: probes::readiness(spec),
        startup_probe: probes::startup(spec),
        lifecycle: pod::lifecycle(spec, settings),
        volume_mounts: mounts.clone(),
        ..Default::default()
    };
    // Migrations run with the same image, environment and secrets as the worker.
    let init = spec.init_container.as_ref().map(|init| Container {
        name: "init".into(),
        image: Some(spec.image.clone()),
        command: non_empty(&init.command),
        args: non_empty(&init.args),
        env: Some(env),
        env_from,
        resources: Some(resources),
        security_context: Some(container_security(read_only)),
        volume_mounts: mounts,
        ..Default::default()
    });
    let pull_secrets: Vec<_> = spec
        .image_pull_secrets
        .iter()
        .map(|s| LocalObjectReference {
            name: s.name.clone(),
        })
        .collect();

    Deployment {
        metadata: super::metadata(&placement.name, placement, labels),
        spec: Some(DeploymentSpec {
            selector: LabelSelector {
                match_labels: Some(labels.selector()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod::labels(spec, labels)),
                    annotations: pod::annotations(spec, config_hash),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(placement.name.clone()),
                    security_context: Some(pod_security()),
                    image_pull_secrets: (!pull_secrets.is_empty()).then_some(pull_secrets),
                    init_containers: init.map(|c| vec![c]),
                    containers: vec![main],
                    volumes,
                    termination_grace_period_seconds: chosen_grace_period(spec, settings),
                    ..pod::scheduling(spec, settings, labels)
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn non_empty(list: &[String]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.to_vec())
}

/// NATS settings first, then plain values sorted by name, then every key mapped from a
/// Secret and from a ConfigMap, in claim order.
fn env(spec: &Spec, settings: &Settings) -> Vec<EnvVar> {
    let nats = &spec.nats;
    let url = nats
        .url
        .clone()
        .unwrap_or_else(|| settings.nats.url.clone());
    let plain = [
        ("NATS_URL", url),
        ("NATS_STREAM_NAME", nats.stream.clone()),
        ("NATS_CONSUMER_GROUP", nats.consumer.clone()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .chain(spec.env.iter().map(|(n, v)| (n.clone(), v.clone())))
    .map(|(name, value)| EnvVar {
        name,
        value: Some(value),
        ..Default::default()
    });
    let from_config_maps = spec.config_map_refs.iter().flat_map(|map| {
        map.env.iter().map(|key| EnvVar {
            name: key.env_name.clone(),
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: map.name.clone(),
                    key: key.config_map_key.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    let mapped = spec.secret_refs.iter().flat_map(|secret| {
        secret.env.iter().map(|key| EnvVar {
            name: key.env_name.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.name.clone(),
                    key: key.secret_key.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    plain.chain(mapped).chain(from_config_maps).collect()
}

/// Secrets mounted whole (the five slots in order, then `secretRefs` with `envFrom: true`),
/// then ConfigMaps mounted whole.
fn env_from(spec: &Spec) -> Option<Vec<EnvFromSource>> {
    let secrets = spec.env_from_secrets().map(|name| EnvFromSource {
        secret_ref: Some(SecretEnvSource {
            name: name.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    });
    let config_maps = spec
        .config_map_refs
        .iter()
        .filter(|r| r.env_from == Some(true))
        .map(|r| EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: r.name.clone(),
                ..Default::default()
            }),
            ..Default::default()
        });
    let sources: Vec<_> = secrets.chain(config_maps).collect();
    (!sources.is_empty()).then_some(sources)
}

fn resources(size: &Resources) -> ResourceRequirements {
    let pair = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.to_string())),
            ("memory".to_string(), Quantity(memory.to_string())),
        ])
    };
    ResourceRequirements {
        requests: Some(pair(&size.cpu_request, &size.memory_request)),
        limits: Some(pair(&size.cpu_limit, &size.memory_limit)),
        ..Default::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..Default::default()
    }
}

/// What the Restricted Pod Security Standard asks of a pod.
fn pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        fs_group: Some(RUN_AS),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// What the Restricted Pod Security Standard asks of each container, and a read-only root
/// filesystem when asked for.
fn container_security(read_only: bool) -> SecurityContext {
    SecurityContext {
        read_only_root_filesystem: read_only.then_some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}
