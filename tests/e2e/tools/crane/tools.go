//go:build tools

// Package tools pins github.com/google/go-containerregistry/cmd/crane (its `registry serve` is the
// tests' local OCI registry) at the version the end-to-end tests use; build.sh builds it from here.
package tools

import _ "github.com/google/go-containerregistry/cmd/crane"
