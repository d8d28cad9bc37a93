//go:build tools

// Package tools pins k8s.io/kubernetes' kube-apiserver, kube-controller-manager, kube-scheduler and kubectl at the version the end-to-end
// tests use; build.sh builds them from here.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
