//! The pod-level parts of the Deployment a claim or the platform may set: volumes for files
//! and writable directories, pod labels, scheduling, and how pods stop.

use super::{Labels, CONFIG_HASH};
use crate::api::{
    chosen_pre_stop_sleep,
    input::Settings,
    spec::{Spec, Spread},
};
use k8s_openapi::{
    api::core::v1::{
        ConfigMapVolumeSource, EmptyDirVolumeSource, KeyToPath, Lifecycle, LifecycleHandler,
        PodSpec, SecretVolumeSource, SleepAction, Toleration, TopologySpreadConstraint, Volume,
        VolumeMount,
    },
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use std::collections::BTreeMap;

/// The volumes of `files` (read-only) and `tmpDirs` (empty, writable), and their mounts, which
/// the worker and the init container share; `None` for each when there are none.
pub fn volumes(
    spec: &Spec,
    settings: &Settings,
) -> (Option<Vec<Volume>>, Option<Vec<VolumeMount>>) {
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for (i, file) in spec.files.iter().enumerate() {
        let name = format!("files-{i}");
        let items = (!file.items.is_empty()).then(|| {
            file.items
                .iter()
                .map(|item| KeyToPath {
                    key: item.key.clone(),
                    path: item.path.clone(),
                    ..KeyToPath::default()
                })
                .collect::<Vec<_>>()
        });
        volumes.push(Volume {
            name: name.clone(),
            secret: file.secret.as_ref().map(|secret| SecretVolumeSource {
                secret_name: Some(secret.clone()),
                items: items.clone(),
                ..SecretVolumeSource::default()
            }),
            config_map: file.config_map.as_ref().map(|map| ConfigMapVolumeSource {
                name: map.clone(),
                items,
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name,
            mount_path: file.mount_path.clone(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    for (i, dir) in tmp_dirs(spec, settings).iter().enumerate() {
        let name = format!("tmp-{i}");
        volumes.push(Volume {
            name: name.clone(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name,
            mount_path: dir.clone(),
            ..VolumeMount::default()
        });
    }
    if volumes.is_empty() {
        (None, None)
    } else {
        (Some(volumes), Some(mounts))
    }
}

/// The claim's writable directories, or the platform's when the claim sets none.
pub fn tmp_dirs<'a>(spec: &'a Spec, settings: &'a Settings) -> &'a [String] {
    spec.tmp_dirs
        .as_deref()
        .unwrap_or(&settings.defaults.tmp_dirs)
}

/// Our labels, then the claim's extra pod labels (which may not replace ours).
pub fn labels(spec: &Spec, labels: &Labels) -> BTreeMap<String, String> {
    let mut all = spec.pod_labels.clone();
    all.extend(labels.all());
    all
}

/// A map, or `None` when it is empty, so an unused field is left out.
pub fn non_empty_map(map: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then(|| map.clone())
}

/// The pod annotations: the claim's, and the hash of the Secrets and ConfigMaps the pods read
/// when the claim follows them.
pub fn annotations(spec: &Spec, config_hash: Option<&str>) -> Option<BTreeMap<String, String>> {
    let mut annotations = spec.pod_annotations.clone();
    if let Some(hash) = config_hash {
        annotations.insert(CONFIG_HASH.to_string(), hash.to_string());
    }
    (!annotations.is_empty()).then_some(annotations)
}

/// A preStop sleep, so the pod leaves endpoints and in-flight work settles before SIGTERM.
pub fn lifecycle(spec: &Spec, settings: &Settings) -> Option<Lifecycle> {
    let (seconds, _) = chosen_pre_stop_sleep(spec, settings)?;
    Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            sleep: Some(SleepAction { seconds }),
            ..LifecycleHandler::default()
        }),
        ..Lifecycle::default()
    })
}

/// Node selection, tolerations, affinity, priority and spread; the rest of the pod spec is
/// left to the caller.
pub fn scheduling(spec: &Spec, settings: &Settings, labels: &Labels) -> PodSpec {
    let scheduling = &spec.scheduling;
    let spread = scheduling
        .spread
        .unwrap_or(settings.defaults.scheduling.spread);
    let topology_key = match spread {
        Spread::Zone => Some("topology.kubernetes.io/zone"),
        Spread::Host => Some("kubernetes.io/hostname"),
        Spread::None => None,
    };
    PodSpec {
        node_selector: non_empty_map(&scheduling.node_selector),
        tolerations: (!scheduling.tolerations.is_empty())
            .then(|| scheduling.tolerations.iter().map(toleration).collect()),
        affinity: scheduling.affinity.clone(),
        priority_class_name: scheduling.priority_class_name.clone(),
        // As even as the scheduler can make it, never blocking a pod from starting.
        topology_spread_constraints: topology_key.map(|key| {
            vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: key.into(),
                when_unsatisfiable: "ScheduleAnyway".into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some(labels.selector()),
                    ..LabelSelector::default()
                }),
                ..TopologySpreadConstraint::default()
            }]
        }),
        ..PodSpec::default()
    }
}

/// A claim's toleration as Kubernetes states it.
fn toleration(t: &crate::api::spec::Toleration) -> Toleration {
    Toleration {
        key: t.key.clone(),
        operator: t.operator.clone(),
        value: t.value.clone(),
        effect: t.effect.clone(),
        toleration_seconds: t.toleration_seconds,
    }
}
