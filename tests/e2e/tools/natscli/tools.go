//go:build tools

// Package tools pins NATS' own command line client at the version the end-to-end tests use to
// publish and acknowledge messages; build.sh builds it from here.
package tools

import _ "github.com/nats-io/natscli/nats"
