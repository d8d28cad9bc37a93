//go:build tools

// Package tools pins NACK's jetstream-controller at the version the end-to-end tests use; build.sh builds it from here.
package tools

import _ "github.com/nats-io/nack/cmd/jetstream-controller"
