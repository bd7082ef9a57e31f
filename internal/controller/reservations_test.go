package controller

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// TestReservations: two exposures of one tenant that read the same (stale) cache get disjoint
// ports; once the cache shows a port held, the reservation gives way to it.
func TestReservations(t *testing.T) {
	block := allocator.Range{Start: 30800, End: 30809}
	req := allocator.PortRequest{Names: []string{allocator.PortHTTP, allocator.PortGRPC}}
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	var r portReservations
	pa, err := r.assign(a, block, req, map[int32]bool{})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := r.assign(b, block, req, map[int32]bool{}) // the cache shows nothing yet
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pa {
		for _, q := range pb {
			if p == q {
				t.Fatalf("both got port %d: %v %v", p, pa, pb)
			}
		}
	}
	// a asks again (a retry): it keeps its own ports.
	if again, _ := r.assign(a, block, allocator.PortRequest{Names: req.Names, Recorded: pa}, map[int32]bool{}); again[allocator.PortHTTP] != pa[allocator.PortHTTP] {
		t.Fatalf("a moved: %v -> %v", pa, again)
	}
	// The cache now shows a's Service; then it is deleted: its ports are free for b at once.
	used := map[int32]bool{pa[allocator.PortHTTP]: true, pa[allocator.PortGRPC]: true}
	if _, err := r.assign(b, block, allocator.PortRequest{Names: req.Names, Recorded: pb}, used); err != nil {
		t.Fatal(err)
	}
	c := types.NamespacedName{Namespace: "ns", Name: "c"}
	pc, err := r.assign(c, block, allocator.PortRequest{Names: []string{allocator.PortHTTP}}, map[int32]bool{pb[allocator.PortHTTP]: true, pb[allocator.PortGRPC]: true})
	if err != nil {
		t.Fatal(err)
	}
	if pc[allocator.PortHTTP] != pa[allocator.PortHTTP] {
		t.Fatalf("c got %v, want a's freed port %d", pc, pa[allocator.PortHTTP])
	}
}

func BenchmarkReservations(b *testing.B) {
	block := allocator.Range{Start: 30000, End: 30999}
	req := allocator.PortRequest{Names: []string{allocator.PortHTTP, allocator.PortGRPC, allocator.PortMetrics}}
	b.ReportAllocs()
	for b.Loop() {
		var r portReservations
		for i := range 300 {
			if _, err := r.assign(types.NamespacedName{Name: string(rune('a'+i%26)) + string(rune('a'+i/26))}, block, req, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}
