package haproxy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// largeInput is a big cluster: 200 tenants with 5 gRPC exposures each, 50 GPU nodes, 4 ingress nodes.
func largeInput() Input {
	in := Input{Globals: Globals{IngressPort: 443, HTTPSPort: 443, StatsBind: ":8404", Timeout: 300 * time.Second, HardStopAfter: 30 * time.Minute}}
	for i := range 50 {
		in.BackendNodes = append(in.BackendNodes, Node{Name: fmt.Sprintf("gpu-%02d", i), IP: netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)})})
	}
	for i := range 4 {
		in.IngressNodes = append(in.IngressNodes, Node{Name: fmt.Sprintf("ingress-%d", i), IP: netip.AddrFrom4([4]byte{10, 0, 2, byte(i + 1)})})
	}
	for t := range 200 {
		tn := Tenant{Name: fmt.Sprintf("tenant-%03d", t), VIP: netip.AddrFrom4([4]byte{10, 0, 100 + byte(t/250), byte(t%250 + 1)}).String(), CertificatePath: fmt.Sprintf("/etc/haproxy/certs/t%d.pem", t)}
		for e := range 5 {
			np := int32(30000 + t*10 + e)
			tn.GRPC = append(tn.GRPC, GRPCFrontend{Namespace: "ns", Exposure: fmt.Sprintf("model-%d", e), BindPort: np, NodePort: np})
		}
		in.Tenants = append(in.Tenants, tn)
	}
	return in
}

func BenchmarkRenderLarge(b *testing.B) {
	in := largeInput()
	cfg, errs := Render(in)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ReportMetric(float64(len(cfg)), "cfg-bytes")
	b.ReportAllocs()
	for b.Loop() {
		Render(in)
	}
}
