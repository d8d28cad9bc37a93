//! The ClusterIP Service in front of the worker's HTTP port (`spec.port`).

use super::{Labels, HTTP_PORT_NAME};
use crate::api::{placement::Placement, spec::Spec};
use k8s_openapi::{
    api::core::v1::{Service, ServicePort, ServiceSpec},
    apimachinery::pkg::util::intstr::IntOrString,
};

/// Builds the Service.
pub fn build(spec: &Spec, placement: &Placement, labels: &Labels) -> Service {
    Service {
        metadata: super::metadata(&placement.name, placement, labels),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels.selector()),
            ports: Some(vec![ServicePort {
                name: Some(HTTP_PORT_NAME.into()),
                port: spec.port,
                target_port: Some(IntOrString::String(HTTP_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}
