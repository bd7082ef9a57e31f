package exposure

import (
	"strconv"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// TestReservations: two exposures of one tenant that read the same (stale) cache get disjoint
// ports; once the cache shows a port held, the reservation gives way to it.
// Exposures a and b of one tenant ask for an http and a grpc port.
var (
	resA, resB = types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	resReq     = allocator.PortRequest{Names: []string{allocator.PortHTTP, allocator.PortGRPC}}
)

// reservedForA is a fresh set of reservations in which a got its ports of block first, while
// the cache showed none held.
func reservedForA(t *testing.T, block allocator.Range) (*portReservations, map[string]int32) {
	t.Helper()
	r := &portReservations{}
	pa, err := r.assign(resA, block, resReq, usedIn(nil))
	if err != nil {
		t.Fatal(err)
	}
	return r, pa
}

func TestReservations(t *testing.T) {
	block := allocator.Range{Start: 30800, End: 30809}
	a, b, req := resA, resB, resReq
	r, pa := reservedForA(t, block)
	pb, err := r.assign(b, block, req, usedIn(nil)) // the cache shows nothing yet
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
	if again, _ := r.assign(a, block, allocator.PortRequest{Names: req.Names, Recorded: pa}, usedIn(nil)); again[allocator.PortHTTP] != pa[allocator.PortHTTP] {
		t.Fatalf("a moved: %v -> %v", pa, again)
	}
	// The cache now shows a's Service; then it is deleted: its ports are free for b at once.
	used := map[int32]bool{pa[allocator.PortHTTP]: true, pa[allocator.PortGRPC]: true}
	if _, err := r.assign(b, block, allocator.PortRequest{Names: req.Names, Recorded: pb}, usedIn(used)); err != nil {
		t.Fatal(err)
	}
	c := types.NamespacedName{Namespace: "ns", Name: "c"}
	pc, err := r.assign(c, block, allocator.PortRequest{Names: []string{allocator.PortHTTP}}, usedIn(map[int32]bool{pb[allocator.PortHTTP]: true, pb[allocator.PortGRPC]: true}))
	if err != nil {
		t.Fatal(err)
	}
	if pc[allocator.PortHTTP] != pa[allocator.PortHTTP] {
		t.Fatalf("c got %v, want a's freed port %d", pc, pa[allocator.PortHTTP])
	}
}

// usedIn is the ports of m held by other Services, as the node-port view answers.
func usedIn(m map[int32]bool) func(int32) portState {
	return func(p int32) portState {
		if m[p] {
			return portTaken
		}
		return portFree
	}
}

// TestReservationNotRenewedForOwnService: an exposure whose own Service holds its ports does not
// reserve them again on its next reconciles, so once that Service is deleted an exposure waiting
// in the full block gets them at once (the node-port view's wake-up), not when a reservation
// renewed by the last reconcile runs out.
func TestReservationNotRenewedForOwnService(t *testing.T) {
	block := allocator.Range{Start: 30800, End: 30802}
	a, b, req := resA, resB, resReq
	r, pa := reservedForA(t, block)
	own := func(p int32) portState {
		if p == pa[allocator.PortHTTP] || p == pa[allocator.PortGRPC] {
			return portOwn
		}
		return portFree
	}
	asOther := func(p int32) portState {
		if own(p) == portOwn {
			return portTaken
		}
		return portFree
	}
	// a's Service is in the cache, b finds the block full; then a reconciles again (its
	// tenant's status changed, say) and keeps its ports...
	if _, err := r.assign(b, block, req, asOther); err == nil {
		t.Fatal("b got ports from a full block")
	}
	again, err := r.assign(a, block, allocator.PortRequest{Names: req.Names, Current: pa, Recorded: pa}, own)
	if err != nil || again[allocator.PortHTTP] != pa[allocator.PortHTTP] || again[allocator.PortGRPC] != pa[allocator.PortGRPC] {
		t.Fatalf("a moved: %v -> %v (%v)", pa, again, err)
	}
	// ...and once it is deleted (the cache shows the ports free), b gets them.
	pb, err := r.assign(b, block, req, usedIn(nil))
	if err != nil {
		t.Fatalf("b still waits after a's Service is gone: %v", err)
	}
	if len(pb) != 2 {
		t.Fatalf("b got %v", pb)
	}
}

func BenchmarkReservations(b *testing.B) {
	block := allocator.Range{Start: 30000, End: 30999}
	req := allocator.PortRequest{Names: []string{allocator.PortHTTP, allocator.PortGRPC, allocator.PortMetrics}}
	b.ReportAllocs()
	for b.Loop() {
		var r portReservations
		for i := range 300 {
			if _, err := r.assign(types.NamespacedName{Name: string(rune('a'+i%26)) + string(rune('a'+i/26))}, block, req, usedIn(nil)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestReservationKeepsLivePortOutsideBlock: a live port the exposure keeps outside its tenant's
// (new) block stays its own on the next assignment; other owners' reservations outside the
// block do not count, inside they do.
func TestReservationKeepsLivePortOutsideBlock(t *testing.T) {
	block := allocator.Range{Start: 30800, End: 30809}
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	live := map[string]int32{allocator.PortHTTP: 30950}
	req := allocator.PortRequest{Names: []string{allocator.PortHTTP}, Recorded: live, Current: live, KeepLive: true}
	var r portReservations
	for range 2 {
		got, err := r.assign(a, block, req, usedIn(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got[allocator.PortHTTP] != 30950 {
			t.Fatalf("live port moved to %v", got)
		}
	}
	got, err := r.assign(b, block, allocator.PortRequest{Names: []string{allocator.PortHTTP}}, usedIn(nil))
	if err != nil || got[allocator.PortHTTP] != 30800 {
		t.Fatalf("b got %v, %v: want 30800", got, err)
	}
	if got, _ := r.assign(a, block, allocator.PortRequest{Names: []string{allocator.PortHTTP}}, usedIn(nil)); got[allocator.PortHTTP] != 30801 {
		t.Fatalf("a got %v: want 30801 (30800 is reserved for b)", got)
	}
}

// BenchmarkReservationsBusy: one assignment while 1,500 ports of 50 other blocks are reserved
// (a burst of creates at 10,000 exposures): the cost does not grow with them.
func BenchmarkReservationsBusy(b *testing.B) {
	req := allocator.PortRequest{Names: []string{allocator.PortHTTP, allocator.PortGRPC, allocator.PortMetrics}}
	var r portReservations
	for i := range 500 {
		blk := allocator.Range{Start: 30000 + int32(i%50)*600, End: 30000 + int32(i%50)*600 + 599}
		if _, err := r.assign(types.NamespacedName{Name: "e" + strconv.Itoa(i)}, blk, req, usedIn(nil)); err != nil {
			b.Fatal(err)
		}
	}
	block := allocator.Range{Start: 60000, End: 60599}
	owner := types.NamespacedName{Name: "new"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.assign(owner, block, req, usedIn(nil)); err != nil {
			b.Fatal(err)
		}
	}
}
