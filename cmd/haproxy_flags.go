package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/inference-exposure/inference-exposure-operator/internal/controller/haproxyconfig"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
)

type haproxyFlags struct {
	enabled                     bool
	namespace, name             string
	backendSelector, ingressSel string
	ingressPort, httpsPort      int
	shards, slots               int
	ingressCA, statsBind        string
	timeout, hardStopAfter      time.Duration
	reserved                    string
}

func (h *haproxyFlags) bind(fs *flag.FlagSet) {
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "inference-exposure-system"
	}
	fs.BoolVar(&h.enabled, "haproxy", true, "Render the HAProxy configuration ConfigMap.")
	fs.StringVar(&h.namespace, "haproxy-configmap-namespace", ns, "Namespace of the HAProxy ConfigMap (default: the operator's, from POD_NAMESPACE).")
	fs.StringVar(&h.name, "haproxy-configmap-name", "inference-exposure-haproxy", "Name of the HAProxy ConfigMap holding the global part (key "+haproxyconfig.GlobalKey+"); the tenants' parts go to <name>-00 ... <name>-NN.")
	fs.IntVar(&h.shards, "haproxy-shards", haproxyconfig.DefaultShards, fmt.Sprintf("How many ConfigMaps the tenants' HAProxy frontends are spread over (1-%d); a mounted directory of all of them is the configuration.", haproxyconfig.MaxShards))
	fs.StringVar(&h.backendSelector, "haproxy-backend-node-selector", "", "Label selector of the nodes gRPC frontends forward to (empty: all nodes).")
	fs.StringVar(&h.ingressSel, "haproxy-ingress-node-selector", "node-role.kubernetes.io/ingress", "Label selector of the nodes running the ingress controller.")
	fs.IntVar(&h.ingressPort, "haproxy-ingress-port", 443, "HTTPS port of the ingress nodes.")
	fs.IntVar(&h.httpsPort, "haproxy-https-port", 443, "Port of each tenant's HTTPS frontend on its VIP.")
	fs.StringVar(&h.ingressCA, "haproxy-ingress-ca-path", "", "CA file on the HAProxy hosts to verify the ingress nodes' certificates (empty: not verified).")
	fs.StringVar(&h.statsBind, "haproxy-stats-bind", "127.0.0.1:8404", "Address of HAProxy's stats page (/stats) and Prometheus endpoint (/metrics): they show every tenant's frontends and the nodes' addresses, so never a tenant VIP; an address of the edge nodes' management network to scrape it from outside.")
	fs.StringVar(&h.reserved, "haproxy-reserved-ports", formatRanges(haproxy.DefaultReservedPorts), "Ports never bound on a tenant VIP, because the HAProxy hosts use them (comma-separated ports and ranges): sshd, etcd, the API server, HAProxy's stats and the agent, the kubelet and kube-proxy. Add any port the platform runs on its edge nodes.")
	fs.DurationVar(&h.timeout, "haproxy-timeout", 300*time.Second, "Client and server timeout of the frontends: long enough for LLM token streams.")
	fs.DurationVar(&h.hardStopAfter, "haproxy-hard-stop-after", 30*time.Minute, "How long an old HAProxy process keeps open streams after a reload.")
	fs.IntVar(&h.slots, "haproxy-server-slots", haproxy.DefaultSlots, fmt.Sprintf("Least number of server slots per backend (1-%d). Nodes that join, leave or turn NotReady take or free a slot, which the HAProxy agent applies without a reload; past the slots the table grows (node count plus a quarter) and HAProxy reloads once.", maxServerSlots))
}

// maxServerSlots bounds --haproxy-server-slots: every slot is a server line in every backend.
const maxServerSlots = 1024

func (h *haproxyFlags) settings() (*haproxyconfig.Settings, error) {
	if !h.enabled {
		return nil, nil
	}
	backend, err := labels.Parse(h.backendSelector)
	if err != nil {
		return nil, fmt.Errorf("--haproxy-backend-node-selector: %w", err)
	}
	ingress, err := labels.Parse(h.ingressSel)
	if err != nil {
		return nil, fmt.Errorf("--haproxy-ingress-node-selector: %w", err)
	}
	for name, p := range map[string]int{"--haproxy-ingress-port": h.ingressPort, "--haproxy-https-port": h.httpsPort} {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("%s %d is not a port", name, p)
		}
	}
	if h.ingressCA != "" && !haproxy.ValidPath(h.ingressCA) {
		return nil, fmt.Errorf("--haproxy-ingress-ca-path %q must be an absolute path of letters, digits, '.', '_', '-' and '/'", h.ingressCA)
	}
	if !haproxy.ValidBind(h.statsBind) {
		return nil, fmt.Errorf("--haproxy-stats-bind %q must look like 127.0.0.1:8404", h.statsBind)
	}
	if ap, err := netip.ParseAddrPort(h.statsBind); err != nil || ap.Addr().IsUnspecified() {
		return nil, fmt.Errorf("--haproxy-stats-bind %q must name one address, such as 127.0.0.1:8404 or an address of the edge nodes' management network: on every address it would serve every tenant's frontends and the nodes' addresses on the tenant VIPs", h.statsBind)
	}
	reserved, err := parseRanges(h.reserved)
	if err != nil {
		return nil, fmt.Errorf("--haproxy-reserved-ports: %w", err)
	}
	if h.shards < 1 || h.shards > haproxyconfig.MaxShards {
		return nil, fmt.Errorf("--haproxy-shards %d must be within 1-%d", h.shards, haproxyconfig.MaxShards)
	}
	if h.timeout > haproxy.MaxTimer || h.hardStopAfter > haproxy.MaxTimer {
		return nil, fmt.Errorf("--haproxy-timeout and --haproxy-hard-stop-after must be at most %s (HAProxy's timers overflow past it)", haproxy.MaxTimer)
	}
	if h.slots < 1 || h.slots > maxServerSlots {
		return nil, fmt.Errorf("--haproxy-server-slots %d must be within 1-%d", h.slots, maxServerSlots)
	}
	if h.timeout < 0 || h.hardStopAfter <= 0 {
		return nil, fmt.Errorf("--haproxy-timeout must not be negative and --haproxy-hard-stop-after must be positive")
	}
	return &haproxyconfig.Settings{
		Namespace: h.namespace, Name: h.name, Shards: h.shards, BackendNodes: backend, IngressNodes: ingress,
		Globals: haproxy.Globals{
			IngressPort: int32(h.ingressPort), HTTPSPort: int32(h.httpsPort), IngressCAPath: h.ingressCA,
			StatsBind: h.statsBind, Timeout: h.timeout, HardStopAfter: h.hardStopAfter, ServerSlots: h.slots,
			ReservedPorts: reserved,
		},
	}, nil
}

// cacheOptions are the controllers' cache settings for these HAProxy settings.
func cacheOptions(s *haproxyconfig.Settings) cache.Options {
	if s == nil {
		return kubecache.CacheOptions("")
	}
	return kubecache.CacheOptions(s.Namespace)
}

// parseRanges reads "22,8404-8405,10250".
func parseRanges(s string) ([]haproxy.PortRange, error) {
	var out []haproxy.PortRange
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, errA := strconv.Atoi(lo)
		b, errB := strconv.Atoi(hi)
		if errA != nil || errB != nil || a < 1 || b > 65535 || a > b {
			return nil, fmt.Errorf("%q is not a port or a range of ports such as 10248-10260", part)
		}
		out = append(out, haproxy.PortRange{Start: int32(a), End: int32(b)})
	}
	return out, nil
}

func formatRanges(rs []haproxy.PortRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}
