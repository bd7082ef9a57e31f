package kubecache

import (
	"slices"
	"strings"
	"sync"
	"time"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// labelMapTTL is how long a label set stays in the table after it was last handed out. The
// children of one exposure reach the cache within seconds of each other (created together, or
// listed together after a restart); a set nobody asked for in one to two periods belongs to
// objects that are gone or already share it.
const labelMapTTL = 10 * time.Minute

// maxSharedLabels bounds the label sets that are shared. Only the operator's children share
// (they carry its managed-by label and three labels in all): other applications' label sets
// are often unique to one object, and an entry would cost more than it saves.
const maxSharedLabels = 8

// labelMaps hands out one map per distinct label set to the objects of the cache. An exposure's
// Service and routing objects carry the same three labels, and even a small Go map is costly:
// one map instead of three per exposure. Cached objects are never written to (reads that may
// write get deep copies),
// so a shared map is safe.
//
// Entries are dropped by age, two tables at a time: a set is found in the current table or in
// the previous one (and moved to the current), and every labelMapTTL the current table becomes
// the previous one. The table holds no more than the sets seen in the last two periods.
type labelMaps struct {
	mu        sync.Mutex
	cur, prev map[string]map[string]string
	flipped   time.Time
	now       func() time.Time // time.Now; tests set it
}

// shared returns the table's map equal to l, adding keep(l) when there is none: decoded label
// maps equal to one in the table are not copied at all. What it returns must not be written to.
func (t *labelMaps) shared(l map[string]string, keep func(map[string]string) map[string]string) map[string]string {
	if len(l) == 0 || len(l) > maxSharedLabels || l[exposurev1alpha1.LabelManagedBy] != exposurev1alpha1.ManagedByValue {
		return keep(l)
	}
	var keys [maxSharedLabels]string
	sorted := keys[:0]
	size := 0
	for k, v := range l {
		sorted = append(sorted, k)
		size += len(k) + len(v) + 2
	}
	slices.Sort(sorted)
	var b strings.Builder
	b.Grow(size)
	for _, k := range sorted {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(l[k])
		b.WriteByte(0)
	}
	key := b.String()

	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	if n := now(); t.cur == nil || n.Sub(t.flipped) >= labelMapTTL {
		t.prev, t.cur, t.flipped = t.cur, map[string]map[string]string{}, n
	}
	if m, ok := t.cur[key]; ok {
		return m
	}
	if m, ok := t.prev[key]; ok {
		t.cur[key] = m
		return m
	}
	m := keep(l)
	t.cur[key] = m
	return m
}

// sharedLabelMaps is the table of the process's caches.
var sharedLabelMaps labelMaps
