//go:build tools

// Package tools pins github.com/rhysd/actionlint/cmd/actionlint (it checks the release
// workflow in CI) at the version CI uses; build.sh builds it from here.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
