// Command coredns is CoreDNS built from its Go module with the plugins the test cluster's
// Corefile uses (tools/kube-testenv/cluster-up.sh). Upstream's main package is the same two
// lines plus an import of every plugin; leaving out the cloud DNS plugins (Route 53, Azure,
// Cloud DNS, ...) keeps their SDKs out of the cold build. Plugin order comes from CoreDNS's
// own dnsserver.Directives, so the server behaves as the released binary does.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
