//go:build tools

// Package tools pins github.com/nats-io/nats-server/v2 at the version the end-to-end tests use; build.sh builds it from here.
package tools

import _ "github.com/nats-io/nats-server/v2"
