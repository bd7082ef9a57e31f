package haproxy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func table(nodes ...string) SlotTable { return SlotTable{Nodes: nodes} }

func TestAssignSlots(t *testing.T) {
	for _, tc := range []struct {
		name  string
		prev  SlotTable
		nodes []string
		min   int
		want  SlotTable
	}{
		{"first render, name order", SlotTable{}, []string{"b", "a"}, 4, table("a", "b", "", "")},
		{"a node that joins takes the lowest free slot", table("a", "", "c", ""), []string{"c", "a", "b"}, 4, table("a", "b", "c", "")},
		{"a node that leaves frees its slot, the others stay", table("a", "b", "c", ""), []string{"a", "c"}, 4, table("a", "", "c", "")},
		{"leave and join in one render: the newcomer takes the freed slot", table("a", "b", "c", ""), []string{"a", "c", "d", "e"}, 4, table("a", "d", "c", "e")},
		{"never shrinks below the previous size", table("a", "", "", "", "", "", "", ""), []string{"a"}, 4, table("a", "", "", "", "", "", "", "")},
		{"grows with headroom when the nodes do not fit", table("a", "b"), []string{"a", "b", "c"}, 2, table("a", "b", "c", "", "", "", "", "")},
		{"a name twice in a damaged table is placed once", table("a", "a", ""), []string{"a"}, 3, table("a", "", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AssignSlots(tc.prev, tc.nodes, tc.min)
			if !slices.Equal(got.Nodes, tc.want.Nodes) {
				t.Fatalf("got %q, want %q", got.Nodes, tc.want.Nodes)
			}
		})
	}
}

func TestSlotsRoundTrip(t *testing.T) {
	in := twoTenants()
	parts, _ := RenderParts(in)
	backend, ingress := ParseSlots(parts.Global)
	if !slices.Equal(backend.Nodes, parts.BackendSlots.Nodes) || !slices.Equal(ingress.Nodes, parts.IngressSlots.Nodes) {
		t.Fatalf("read back %q / %q, rendered %q / %q", backend.Nodes, ingress.Nodes, parts.BackendSlots.Nodes, parts.IngressSlots.Nodes)
	}
	// gpu-1 leaves, gpu-3 joins: with the tables read back, gpu-2 keeps slot 2 and gpu-3 takes
	// slot 1; without them (a first render) the nodes would be placed by name.
	in.BackendNodes = []Node{node("gpu-2", "10.0.1.102"), node("gpu-3", "10.0.1.103")}
	in.BackendSlots, in.IngressSlots = backend, ingress
	next, _ := RenderParts(in)
	if got := next.BackendSlots.Nodes[:3]; !slices.Equal(got, []string{"gpu-3", "gpu-2", ""}) {
		t.Fatalf("slots after churn: %q", got)
	}
	if !strings.Contains(next.String(), "server s2 10.0.1.102 check port 30903  # gpu-2\n") {
		t.Fatalf("gpu-2 moved out of slot 2:\n%s", next.String())
	}
}

func TestParseSlotsIgnoresDamage(t *testing.T) {
	for _, global := range []string{
		"",
		"# slots backend 3: a b\n", // size disagrees
		"# slots backend x: a\n",   // no size
		"# slots backend 99999: " + strings.Repeat("- ", 99999) + "\n", // too large
	} {
		if b, _ := ParseSlots(global); b.Size() != 0 {
			t.Errorf("%.60q gave %d slots", global, b.Size())
		}
	}
	b, _ := ParseSlots("# slots backend 3: a BAD!name -\n")
	if !slices.Equal(b.Nodes, []string{"a", "", ""}) {
		t.Errorf("an unreadable name must free its slot: %q", b.Nodes)
	}
}

func FuzzAssignSlots(f *testing.F) {
	f.Add("a b - c", "c a d", 4)
	f.Fuzz(func(t *testing.T, prev, nodes string, minSize int) {
		if minSize < 0 || minSize > 512 {
			return
		}
		p, _ := ParseSlots(fmt.Sprintf("# slots backend %d: %s\n", len(strings.Fields(prev)), prev))
		names := strings.Fields(nodes)
		got := AssignSlots(p, names, minSize)
		if got.Size() < len(names) || got.Size() < minSize || got.Size() < p.Size() {
			t.Fatalf("size %d for %d nodes, min %d, prev %d", got.Size(), len(names), minSize, p.Size())
		}
		for _, n := range names {
			if !slices.Contains(got.Nodes, n) {
				t.Fatalf("node %q has no slot", n)
			}
		}
		for i, n := range p.Nodes {
			if n != "" && slices.Contains(names, n) && got.Nodes[i] != n {
				t.Fatalf("node %q moved from slot %d", n, i+1)
			}
		}
	})
}
