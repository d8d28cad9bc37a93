//go:build tools

// Package tools pins github.com/crossplane-contrib/provider-kubernetes/cmd/provider at the version
// the end-to-end tests use; build.sh builds it from here.
package tools

import _ "github.com/crossplane-contrib/provider-kubernetes/cmd/provider"
