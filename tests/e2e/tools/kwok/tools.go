//go:build tools

// Package tools pins sigs.k8s.io/kwok/cmd/kwok at the version the end-to-end tests use; build.sh builds it from here.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
