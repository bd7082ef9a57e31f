package conditions

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-logr/logr/funcr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// TestConditionSet: Events and log lines go out once per change; a False condition is logged
// with the object, Failed warns, Waiting and Unknown are quiet, True after False is Normal.
func TestConditionSet(t *testing.T) {
	var lines []string
	ctx := logf.IntoContext(context.Background(), funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{}))
	rec := record.NewFakeRecorder(10)
	exp := &exposurev1alpha1.InferenceExposure{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "triton"}}
	var list []metav1.Condition
	c := For(ctx, rec, exp, &list, 1)

	c.Waiting("PortsAllocated", "BlockPending", "waiting")
	c.Failed("Routed", "HostConflict", "host taken")
	c.Failed("Routed", "HostConflict", "host taken") // no change: nothing again
	c.Unknown("ServiceReady", "NotReady", "later")
	c.True("Routed", "Routed", "in place")
	c.True("PortsAllocated", "Allocated", "ports") // the end of a wait: no Event

	var events []string
	for len(rec.Events) > 0 {
		events = append(events, <-rec.Events)
	}
	if strings.Join(events, "|") != "Warning HostConflict host taken|Normal Routed in place" {
		t.Errorf("events = %q", events)
	}
	if len(lines) != 2 || !strings.Contains(lines[0], `"reason"="BlockPending"`) || !strings.Contains(lines[1], `"reason"="HostConflict"`) ||
		!strings.Contains(lines[1], `"name"="triton"`) {
		t.Errorf("log lines = %q", lines)
	}
	if len(list) != 3 {
		t.Errorf("conditions = %v", list)
	}
}

// TestRemoveCondition: an absent condition costs nothing; a present one is dropped into a new
// array, so a list that shares its array with a cached object leaves the cache as it was.
func TestRemoveCondition(t *testing.T) {
	cached := []metav1.Condition{{Type: "Ready"}, {Type: "Routed"}, {Type: "ServiceReady"}}
	tests := []struct {
		name    string
		typ     string
		removed bool
		want    []string
	}{
		{name: "absent", typ: "HAProxyConfigured", want: []string{"Ready", "Routed", "ServiceReady"}},
		{name: "first", typ: "Ready", removed: true, want: []string{"Routed", "ServiceReady"}},
		{name: "middle", typ: "Routed", removed: true, want: []string{"Ready", "ServiceReady"}},
		{name: "last", typ: "ServiceReady", removed: true, want: []string{"Ready", "Routed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list := cached // what a read without a deep copy hands out
			if got := RemoveCondition(&list, tt.typ); got != tt.removed {
				t.Errorf("removed = %v, want %v", got, tt.removed)
			}
			var types []string
			for _, c := range list {
				types = append(types, c.Type)
			}
			if strings.Join(types, ",") != strings.Join(tt.want, ",") {
				t.Errorf("left %v, want %v", types, tt.want)
			}
			if cached[0].Type != "Ready" || cached[1].Type != "Routed" || cached[2].Type != "ServiceReady" {
				t.Errorf("the shared array changed: %v", cached)
			}
		})
	}
	list := cached
	if n := testing.AllocsPerRun(100, func() { RemoveCondition(&list, "HAProxyConfigured") }); n != 0 {
		t.Errorf("removing an absent condition allocated %v times", n)
	}
}

// BenchmarkRemoveAbsentCondition: what a reconcile pays per routing condition an exposure
// does not have (nine conditions, as an exposure has).
func BenchmarkRemoveAbsentCondition(b *testing.B) {
	list := make([]metav1.Condition, 9)
	for i := range list {
		list[i].Type = fmt.Sprintf("Condition%d", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		RemoveCondition(&list, "HTTPRouteAccepted")
	}
}

func TestBoundedMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
	}{
		{"short", "fine", 4},
		{"exactly the bound", strings.Repeat("a", MaxMessage), MaxMessage},
		{"long", strings.Repeat("a", 5000), MaxMessage},
		{"long, multi-byte at the cut", strings.Repeat("é", 3000), MaxMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Bounded(tc.in)
			if len(got) > tc.max || !utf8.ValidString(got) {
				t.Fatalf("%d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
			if len(tc.in) > MaxMessage && !strings.HasSuffix(got, "(cut)") {
				t.Fatalf("a cut message does not say so: %q", got[len(got)-20:])
			}
		})
	}
}
