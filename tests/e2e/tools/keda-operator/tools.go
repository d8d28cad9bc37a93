//go:build tools

// Package tools pins KEDA's operator at the version the end-to-end tests use; build.sh builds it from here.
package tools

import _ "github.com/kedacore/keda/v2/cmd/operator"
