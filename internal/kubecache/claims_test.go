package kubecache

import (
	"testing"

	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// TestHeldBlocks: an answer holds until the next claim event, for the same block only; without
// the view (hand-driven reconcilers) nothing is remembered.
func TestHeldBlocks(t *testing.T) {
	block := allocator.Range{Start: 30800, End: 30899}
	var h HeldBlocks
	epoch := h.Now()
	h.Remember("t1", block, epoch)
	if !h.Known("t1", block) {
		t.Fatal("not remembered")
	}
	if h.Known("t2", block) || h.Known("t1", allocator.Range{Start: 30900, End: 30999}) {
		t.Fatal("remembered for another tenant or block")
	}
	h.epoch.Add(1) // a claim changed
	if h.Known("t1", block) {
		t.Fatal("still known after a claim event")
	}
	// An answer found before an event that arrived while looking is not taken as current.
	epoch = h.Now()
	h.epoch.Add(1)
	h.Remember("t1", block, epoch)
	if h.Known("t1", block) {
		t.Fatal("an answer older than the last event is current")
	}
}
