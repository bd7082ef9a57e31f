package haproxy

import (
	"slices"
	"strconv"
	"strings"
)

// Server slots let a running HAProxy follow node churn without a reload. Every backend lists
// the same fixed number of servers, s1 ... sN; a node keeps its slot for as long as it exists,
// a free slot is a disabled server. A node that joins, leaves, turns NotReady or changes its
// address then changes only the address and the state of one server per backend, which the
// HAProxy agent applies through the Runtime API; the file changes shape (and HAProxy reloads)
// only when the slots run out.

// DefaultSlots is the smallest number of server slots per backend.
const DefaultSlots = 16

// SlotTable places nodes in server slots: Nodes[i] is the node in slot s<i+1>, "" when free.
type SlotTable struct {
	Nodes []string
}

// Size is the number of slots.
func (t SlotTable) Size() int { return len(t.Nodes) }

// AssignSlots keeps every node of prev that still exists in its slot, frees the slots of nodes
// that are gone and puts new nodes (in name order) into the lowest free slots. The table never
// shrinks below prev or minSize; when the nodes do not fit it grows to the node count plus a
// quarter, rounded up to a multiple of 8, so that a few more joins fit again. Pure.
func AssignSlots(prev SlotTable, nodes []string, minSize int) SlotTable {
	size := max(prev.Size(), minSize, 1)
	if len(nodes) > size {
		size = (len(nodes) + len(nodes)/4 + 7) / 8 * 8
	}
	present := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		present[n] = true
	}
	out := SlotTable{Nodes: make([]string, size)}
	placed := make(map[string]bool, len(nodes))
	for i, n := range prev.Nodes {
		if n != "" && present[n] && !placed[n] {
			out.Nodes[i] = n
			placed[n] = true
		}
	}
	fresh := make([]string, 0, len(nodes)-len(placed))
	for _, n := range nodes {
		if !placed[n] {
			fresh = append(fresh, n)
			placed[n] = true
		}
	}
	slices.Sort(fresh)
	free := 0
	for _, n := range fresh {
		for out.Nodes[free] != "" {
			free++
		}
		out.Nodes[free] = n
	}
	return out
}

// slotsComment is how a slot table is written into (and read back from) the global part:
//
//	# slots backend 16: gpu-1 gpu-2 - gpu-4 - - ...
const slotsComment = "# slots "

func (t SlotTable) comment(kind string) string {
	var b strings.Builder
	b.WriteString(slotsComment)
	b.WriteString(kind)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(t.Size()))
	b.WriteByte(':')
	for _, n := range t.Nodes {
		b.WriteByte(' ')
		if n == "" {
			n = "-"
		}
		b.WriteString(n)
	}
	return b.String()
}

// ParseSlots reads the slot tables back from a rendered global part, so that a restarted
// operator keeps every node in its slot. Anything it cannot read gives an empty table: the
// next render then places the nodes afresh (and the agent reloads once).
func ParseSlots(global string) (backend, ingress SlotTable) {
	for line := range strings.Lines(global) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), slotsComment)
		if !ok {
			continue
		}
		kind, rest, _ := strings.Cut(rest, " ")
		sizeText, names, ok := strings.Cut(rest, ":")
		size, err := strconv.Atoi(sizeText)
		fields := strings.Fields(names)
		if !ok || err != nil || size != len(fields) || size > maxSlots {
			continue
		}
		t := SlotTable{Nodes: make([]string, size)}
		for i, f := range fields {
			if f != "-" && nodeNameRE.MatchString(f) && !slices.Contains(t.Nodes, f) {
				t.Nodes[i] = f
			}
		}
		switch kind {
		case "backend":
			backend = t
		case "ingress":
			ingress = t
		}
	}
	return backend, ingress
}

// maxSlots bounds a table read back from a ConfigMap.
const maxSlots = 4096
