package tenant

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// TestBlockHeld: how a held block is reported, a pure decision.
func TestBlockHeld(t *testing.T) {
	pool, err := allocator.NewPool(30000, 32767)
	if err != nil {
		t.Fatal(err)
	}
	block := allocator.Range{Start: 31000, End: 31099}
	moved := &metav1.Condition{Reason: exposurev1alpha1.ReasonBlockMoved, Message: "moved earlier"}
	cases := []struct {
		name      string
		recorded  *exposurev1alpha1.PortBlockStatus
		prev      *metav1.Condition
		block     allocator.Range
		movedFrom string
		reason    string
		contains  string
	}{
		{"plain", nil, nil, block, "", exposurev1alpha1.ReasonBlockAllocated, "holds node ports 31000-31099"},
		{"moved now", nil, nil, block, "beta", exposurev1alpha1.ReasonBlockMoved, `tenant "beta" holds part of its earlier block`},
		{"the move stays on record", &exposurev1alpha1.PortBlockStatus{Start: 31000, End: 31099}, moved, block, "", exposurev1alpha1.ReasonBlockMoved, "moved earlier"},
		{"a move to another block is news", &exposurev1alpha1.PortBlockStatus{Start: 30000, End: 30099}, moved, block, "", exposurev1alpha1.ReasonBlockAllocated, "holds node ports"},
		{"outside the range", nil, nil, allocator.Range{Start: 40000, End: 40099}, "", exposurev1alpha1.ReasonBlockOutsidePool, "--node-port-range changed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg := blockHeld(tc.recorded, tc.prev, tc.block, tc.movedFrom, pool)
			if reason != tc.reason || !strings.Contains(msg, tc.contains) {
				t.Errorf("got %s %q, want %s containing %q", reason, msg, tc.reason, tc.contains)
			}
		})
	}
}
