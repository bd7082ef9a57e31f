package allocator

import (
	"errors"
	"reflect"
	"testing"
)

func ptr(v int32) *int32 { return &v }

func mustPool(t *testing.T, s, e int32) Pool {
	t.Helper()
	p, err := NewPool(s, e)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPool(t *testing.T) {
	for _, tc := range []struct {
		start, end int32
		ok         bool
	}{
		{30000, 32767, true},
		{30005, 32767, false},
		{0, 100, false},
		{30000, 70000, false},
		{31000, 30000, false},
		{30000, 30005, false},
	} {
		_, err := NewPool(tc.start, tc.end)
		if (err == nil) != tc.ok {
			t.Errorf("NewPool(%d,%d) err=%v, want ok=%v", tc.start, tc.end, err, tc.ok)
		}
	}
}

func TestCandidates(t *testing.T) {
	pool := mustPool(t, 30000, 32767)
	small := mustPool(t, 30000, 30299)
	for _, tc := range []struct {
		name    string
		pool    Pool
		req     BlockRequest
		taken   []Range
		foreign []int32
		want    []Range // prefix of the result
		wantN   int     // expected number of candidates, -1 = don't care
		reason  Reason
	}{
		{name: "first free block", pool: small, req: BlockRequest{Size: 100}, want: []Range{{30000, 30099}, {30100, 30199}, {30200, 30299}}, wantN: 3},
		{name: "skips taken", pool: small, req: BlockRequest{Size: 100}, taken: []Range{{30000, 30009}}, want: []Range{{30100, 30199}}, wantN: 2},
		{name: "skips partly overlapping bigger block", pool: small, req: BlockRequest{Size: 100}, taken: []Range{{30050, 30149}}, want: []Range{{30200, 30299}}, wantN: 1},
		{name: "prefers blocks without foreign ports", pool: small, req: BlockRequest{Size: 100}, foreign: []int32{30005, 30150}, want: []Range{{30200, 30299}, {30000, 30099}, {30100, 30199}}, wantN: 3},
		{name: "last partial block unused", pool: pool, req: BlockRequest{Size: 100}, wantN: 27},
		{name: "pool exhausted", pool: small, req: BlockRequest{Size: 100}, taken: []Range{{30000, 30299}}, reason: ReasonPoolExhausted},
		{name: "too large", pool: small, req: BlockRequest{Size: 1000}, reason: ReasonTooLarge},
		{name: "bad size", pool: small, req: BlockRequest{Size: 15}, reason: ReasonInvalidSize},
		{name: "pinned free", pool: pool, req: BlockRequest{Size: 100, Start: ptr(30800)}, want: []Range{{30800, 30899}}, wantN: 1},
		{name: "pinned misaligned", pool: pool, req: BlockRequest{Size: 100, Start: ptr(30850)}, reason: ReasonMisaligned},
		{name: "pinned outside pool", pool: pool, req: BlockRequest{Size: 100, Start: ptr(32700)}, reason: ReasonOutsidePool},
		{name: "pinned below pool", pool: pool, req: BlockRequest{Size: 100, Start: ptr(20000)}, reason: ReasonOutsidePool},
		{name: "pinned taken", pool: pool, req: BlockRequest{Size: 100, Start: ptr(30800)}, taken: []Range{{30890, 30899}}, reason: ReasonPinnedTaken},
		{name: "pinned with foreign ports is still allowed", pool: pool, req: BlockRequest{Size: 100, Start: ptr(30800)}, foreign: []int32{30800}, want: []Range{{30800, 30899}}, wantN: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.pool.Candidates(tc.req, tc.taken, tc.foreign)
			if tc.reason != "" {
				var ae *Error
				if !errors.As(err, &ae) || ae.Reason != tc.reason {
					t.Fatalf("err = %v, want reason %s", err, tc.reason)
				}
				if ae.Message == "" {
					t.Fatal("empty message")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantN >= 0 && len(got) != tc.wantN {
				t.Fatalf("got %d candidates %v, want %d", len(got), got, tc.wantN)
			}
			if len(tc.want) > 0 && (len(got) < len(tc.want) || !reflect.DeepEqual(got[:len(tc.want)], tc.want)) {
				t.Fatalf("got %v, want prefix %v", got, tc.want)
			}
			for _, c := range got {
				for _, tk := range tc.taken {
					if c.Overlaps(tk) {
						t.Fatalf("candidate %v overlaps taken %v", c, tk)
					}
				}
			}
		})
	}
}

func TestGranulesAndRuns(t *testing.T) {
	g := Granules(Range{30800, 30829})
	want := []Range{{30800, 30809}, {30810, 30819}, {30820, 30829}}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("Granules = %v", g)
	}
	if GranuleName(g[0]) != "ports-30800-30809" {
		t.Fatalf("name %s", GranuleName(g[0]))
	}
	runs := Runs([]Range{{30920, 30929}, {30800, 30809}, {30810, 30819}, {30900, 30909}})
	if !reflect.DeepEqual(runs, []Range{{30800, 30819}, {30900, 30909}, {30920, 30929}}) {
		t.Fatalf("Runs = %v", runs)
	}
	if Runs(nil) != nil {
		t.Fatal("Runs(nil) != nil")
	}
}

func TestAssignPorts(t *testing.T) {
	block := Range{30800, 30809}
	all := []string{PortHTTP, PortGRPC, PortMetrics}
	for _, tc := range []struct {
		name   string
		req    PortRequest
		used   []int32
		want   map[string]int32
		reason Reason
	}{
		{name: "fresh", req: PortRequest{Names: all}, want: map[string]int32{"http": 30800, "grpc": 30801, "metrics": 30802}},
		{name: "skips used", req: PortRequest{Names: all}, used: []int32{30800, 30802}, want: map[string]int32{"http": 30801, "grpc": 30803, "metrics": 30804}},
		{name: "keeps current", req: PortRequest{Names: all, Current: map[string]int32{"grpc": 30807}}, want: map[string]int32{"http": 30800, "grpc": 30807, "metrics": 30801}},
		{name: "current outside block is replaced", req: PortRequest{Names: []string{"grpc"}, Current: map[string]int32{"grpc": 31000}}, want: map[string]int32{"grpc": 30800}},
		{name: "current taken by someone else is replaced", req: PortRequest{Names: []string{"grpc"}, Current: map[string]int32{"grpc": 30805}}, used: []int32{30805}, want: map[string]int32{"grpc": 30800}},
		{name: "recorded reused after service loss", req: PortRequest{Names: all, Recorded: map[string]int32{"http": 30805, "grpc": 30806, "metrics": 30807}}, want: map[string]int32{"http": 30805, "grpc": 30806, "metrics": 30807}},
		{name: "recorded wins over an edited Service", req: PortRequest{Names: []string{"http"}, Current: map[string]int32{"http": 30803}, Recorded: map[string]int32{"http": 30805}}, want: map[string]int32{"http": 30805}},
		{name: "recorded taken meanwhile: current kept", req: PortRequest{Names: []string{"http"}, Current: map[string]int32{"http": 30803}, Recorded: map[string]int32{"http": 30805}}, used: []int32{30805}, want: map[string]int32{"http": 30803}},
		{name: "live port outside a moved block is kept", req: PortRequest{Names: []string{"http", "grpc"}, KeepLive: true, Current: map[string]int32{"http": 31000, "grpc": 31001}, Recorded: map[string]int32{"http": 31000, "grpc": 31001}}, want: map[string]int32{"http": 31000, "grpc": 31001}},
		{name: "live needs both record and Service", req: PortRequest{Names: []string{"http", "grpc"}, KeepLive: true, Current: map[string]int32{"http": 31000}, Recorded: map[string]int32{"http": 31000, "grpc": 31001}}, want: map[string]int32{"http": 31000, "grpc": 30800}},
		{name: "without KeepLive an outside port moves", req: PortRequest{Names: []string{"http"}, Current: map[string]int32{"http": 31000}, Recorded: map[string]int32{"http": 31000}}, want: map[string]int32{"http": 30800}},
		{name: "duplicate current gets one winner", req: PortRequest{Names: []string{"http", "grpc"}, Current: map[string]int32{"http": 30803, "grpc": 30803}}, want: map[string]int32{"http": 30803, "grpc": 30800}},
		{name: "exactly full", req: PortRequest{Names: all}, used: []int32{30800, 30801, 30802, 30803, 30804, 30805, 30806}, want: map[string]int32{"http": 30807, "grpc": 30808, "metrics": 30809}},
		{name: "full", req: PortRequest{Names: all}, used: []int32{30800, 30801, 30802, 30803, 30804, 30805, 30806, 30807}, reason: ReasonBlockFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			used := map[int32]bool{}
			for _, u := range tc.used {
				used[u] = true
			}
			got, err := AssignPorts(block, tc.req, isUsed(used))
			if tc.reason != "" {
				var ae *Error
				if !errors.As(err, &ae) || ae.Reason != tc.reason {
					t.Fatalf("err = %v, want %s", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzAssignPorts checks the allocator's invariants on arbitrary inputs: every assigned port
// lies in the block, is not used by anyone else, and no two names share a port.
func FuzzAssignPorts(f *testing.F) {
	f.Add(int32(30800), int32(30809), int32(30801), int32(30805), uint64(0b1011))
	f.Fuzz(func(t *testing.T, start, end, cur, pref int32, usedBits uint64) {
		if start < 1 || end < start || end-start > 63 {
			t.Skip()
		}
		block := Range{start, end}
		used := map[int32]bool{}
		for i := int32(0); i <= end-start; i++ {
			if usedBits&(1<<uint(i)) != 0 {
				used[start+i] = true
			}
		}
		req := PortRequest{Names: []string{"http", "grpc", "metrics"}, Current: map[string]int32{"grpc": cur}, Recorded: map[string]int32{"http": pref, "metrics": cur}}
		got, err := AssignPorts(block, req, isUsed(used))
		if err != nil {
			return
		}
		seen := map[int32]bool{}
		for n, p := range got {
			if !block.Contains(p) || used[p] || seen[p] {
				t.Fatalf("%s=%d invalid (block %v used %v got %v)", n, p, block, used, got)
			}
			seen[p] = true
		}
		if len(got) != 3 {
			t.Fatalf("got %v", got)
		}
	})
}

// isUsed asks a set of ports port by port.
func isUsed(used map[int32]bool) func(int32) bool { return func(p int32) bool { return used[p] } }
