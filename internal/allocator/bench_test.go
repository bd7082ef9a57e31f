package allocator

import "testing"

// BenchmarkCandidatesCrowdedPool: the default pool with 26 of 27 blocks taken in granules.
func BenchmarkCandidatesCrowdedPool(b *testing.B) {
	pool, _ := NewPool(30000, 32767)
	var taken []Range
	for s := int32(30000); s < 32600; s += Granule {
		taken = append(taken, Range{s, s + Granule - 1})
	}
	foreign := []int32{30001, 31234, 32650}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pool.Candidates(BlockRequest{Size: 100}, taken, foreign); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssignPortsNearlyFull: a 1000-port block with 990 ports in use.
func BenchmarkAssignPortsNearlyFull(b *testing.B) {
	block := Range{30000, 30999}
	used := map[int32]bool{}
	for p := int32(30000); p < 30990; p++ {
		used[p] = true
	}
	req := PortRequest{Names: []string{PortHTTP, PortGRPC, PortMetrics}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AssignPorts(block, req, isUsed(used)); err != nil {
			b.Fatal(err)
		}
	}
}
