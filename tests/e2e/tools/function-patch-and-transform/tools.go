//go:build tools

// Package tools pins github.com/crossplane-contrib/function-patch-and-transform, the peer the
// load tool measures the function against; build.sh builds it from here.
package tools

import _ "github.com/crossplane-contrib/function-patch-and-transform"
