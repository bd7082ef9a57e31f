package haproxy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// randomInput draws a cluster from the value ranges the API server accepts: timeouts 0 or
// 1s-168h (the exposure schema) and the flags' range up to MaxTimer, unicast VIPs (v4 and v6,
// shared between tenants now and then), any bind port, nodePorts, Local exposures, nodes.
func randomInput(r *rand.Rand, certPath string) Input {
	timeout := func() time.Duration {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return 168 * time.Hour
		default:
			return time.Second + time.Duration(r.Int64N(int64(168*time.Hour-time.Second)))
		}
	}
	vip := func() string {
		if r.IntN(3) == 0 {
			return netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(r.IntN(4)), byte(1 + r.IntN(200))}).String()
		}
		return netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(3)), byte(1 + r.IntN(4))}).String()
	}
	in := Input{Globals: Globals{IngressPort: 443, HTTPSPort: int32(1 + r.IntN(65535)), StatsBind: "127.0.0.1:8404",
		Timeout: time.Duration(r.Int64N(int64(MaxTimer))), HardStopAfter: time.Second + time.Duration(r.Int64N(int64(MaxTimer)))}}
	for i := range 1 + r.IntN(6) {
		in.BackendNodes = append(in.BackendNodes, Node{Name: fmt.Sprintf("gpu-%d", i), IP: netip.AddrFrom4([4]byte{10, 1, 0, byte(1 + i)})})
	}
	in.IngressNodes = []Node{{Name: "ingress-0", IP: netip.MustParseAddr("10.2.0.1")}}
	for t := range 1 + r.IntN(6) {
		tn := Tenant{Name: fmt.Sprintf("t%d", t), VIP: vip(), FrontendPorts: PortRange{1, 65535}}
		if r.IntN(2) == 0 {
			tn.CertificatePath = certPath
		}
		switch r.IntN(3) {
		case 0:
			tn.HostDomain = fmt.Sprintf("t%d.apps.example.com", t)
		case 1:
			tn.HostDomain = "apps.example.com" // the others' domains nest in it
			tn.Hosts = []string{fmt.Sprintf("own-%d.example.org", t), "Not A Host"}
		}
		for e := range r.IntN(8) {
			np := int32(30000 + r.IntN(30000))
			f := GRPCFrontend{Namespace: fmt.Sprintf("ns-%d", t), Exposure: fmt.Sprintf("e%d", e), NodePort: np, BindPort: np, Local: r.IntN(5) == 0}
			if r.IntN(3) == 0 {
				f.BindPort = int32(1 + r.IntN(65535))
			}
			if r.IntN(2) == 0 {
				f.Timeout = timeout()
			}
			tn.GRPC = append(tn.GRPC, f)
		}
		in.Tenants = append(in.Tenants, tn)
	}
	return in
}

// TestAcceptedValuesAlwaysRender: whatever values the schema and the flags accept, the
// rendered configuration passes `haproxy -c`, and no tenant is dropped for another's values.
func TestAcceptedValuesAlwaysRender(t *testing.T) {
	cert := writeCert(t)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		in := randomInput(r, cert)
		parts, errs := RenderParts(in)
		if len(errs) != 0 {
			t.Fatalf("sample %d: a tenant with accepted values was rejected: %v", i, errs)
		}
		cfg := parts.String()
		// Port collisions between random binds are expected; each is reported and the rest kept.
		if got := strings.Count(cfg, "\n# tenant "); got != len(in.Tenants) {
			t.Fatalf("sample %d: %d tenants rendered, want %d", i, got, len(in.Tenants))
		}
		t.Run(fmt.Sprintf("sample-%d", i), func(t *testing.T) { haproxyCheck(t, cfg) })
	}
}
