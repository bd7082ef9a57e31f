package haproxy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// largeInput is a big cluster: tenants with perTenant gRPC exposures each (every fifth with
// its own timeout), 50 GPU nodes, 4 ingress nodes.
func largeInput(tenants, perTenant int) Input {
	in := Input{Globals: Globals{IngressPort: 443, HTTPSPort: 443, StatsBind: ":8404", Timeout: 300 * time.Second, HardStopAfter: 30 * time.Minute}}
	for i := range 50 {
		in.BackendNodes = append(in.BackendNodes, Node{Name: fmt.Sprintf("gpu-%02d", i), IP: netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)})})
	}
	for i := range 4 {
		in.IngressNodes = append(in.IngressNodes, Node{Name: fmt.Sprintf("ingress-%d", i), IP: netip.AddrFrom4([4]byte{10, 0, 2, byte(i + 1)})})
	}
	for t := range tenants {
		tn := Tenant{Name: fmt.Sprintf("tenant-%03d", t), VIP: netip.AddrFrom4([4]byte{10, 0, 100 + byte(t/250), byte(t%250 + 1)}).String(), CertificatePath: fmt.Sprintf("/etc/haproxy/certs/t%d.pem", t)}
		for e := range perTenant {
			np := int32(30000 + t*perTenant + e)
			f := GRPCFrontend{Namespace: "ns", Exposure: fmt.Sprintf("model-%d", e), BindPort: np, NodePort: np}
			if e%5 == 4 {
				f.Timeout = 10 * time.Minute
			}
			tn.GRPC = append(tn.GRPC, f)
		}
		in.Tenants = append(in.Tenants, tn)
	}
	return in
}

func benchmarkRender(b *testing.B, tenants, perTenant int) {
	in := largeInput(tenants, perTenant)
	cfg, errs := render(in)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	if again, _ := render(in); again != cfg {
		b.Fatal("two renders of the same input differ")
	}
	b.ReportMetric(float64(len(cfg)), "cfg-bytes")
	b.ReportAllocs()
	for b.Loop() {
		RenderParts(in)
	}
}

// BenchmarkRenderLarge: 200 tenants x 5 exposures (1,000) on 50 nodes.
func BenchmarkRenderLarge(b *testing.B) { benchmarkRender(b, 200, 5) }

// BenchmarkRender10k: 200 tenants x 50 exposures (10,000) on 50 nodes: the supported maximum.
func BenchmarkRender10k(b *testing.B) { benchmarkRender(b, 200, 50) }
