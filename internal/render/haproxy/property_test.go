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

// TestSectionNamesNeverCollide: exposures named like the suffixes of other groups (a Local
// exposure "p100" in namespace "t5m" beside a group with a 5m timeout and an offset of 100)
// never give two sections one name; drawn at random from that vocabulary.
func TestSectionNamesNeverCollide(t *testing.T) {
	words := []string{"t5m", "p100", "m100", "t5m-p100", "l", "p", "t", "grpc", "https", "ingress"}
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		tn := Tenant{Name: words[r.IntN(len(words))], VIP: "10.0.0.1", CertificatePath: "/etc/haproxy/certs/a.pem", FrontendPorts: PortRange{1, 65535}}
		for e := range 1 + r.IntN(8) {
			np := int32(30000 + e)
			f := GRPCFrontend{Namespace: words[r.IntN(len(words))], Exposure: fmt.Sprintf("%s-%d", words[r.IntN(len(words))], e), NodePort: np, BindPort: np}
			if r.IntN(2) == 0 {
				f.Exposure = words[r.IntN(len(words))]
			}
			switch r.IntN(3) {
			case 0:
				f.BindPort = np - 100
			case 1:
				f.BindPort = np + 100
			}
			if r.IntN(2) == 0 {
				f.Timeout = 5 * time.Minute
			}
			f.Local = r.IntN(2) == 0
			tn.GRPC = append(tn.GRPC, f)
		}
		parts, errs := RenderParts(Input{Tenants: []Tenant{tn}, Globals: Globals{IngressPort: 443, HTTPSPort: 443, StatsBind: "127.0.0.1:8404", Timeout: time.Minute, HardStopAfter: time.Minute}})
		if len(errs) != 0 {
			continue // a namespace/name pair the schema would refuse
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(parts.String(), "\n") {
			if strings.HasPrefix(line, "frontend ") || strings.HasPrefix(line, "backend ") {
				if seen[line] {
					t.Fatalf("sample %d: two sections named %q:\n%s", i, line, parts.String())
				}
				seen[line] = true
			}
		}
	}
}
