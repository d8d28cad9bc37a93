// Command etcd is etcd's own server, built from the pinned go.etcd.io/etcd/server/v3 module so the
// end-to-end tests do not depend on a distribution's (older) package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
