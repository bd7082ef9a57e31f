package childapply

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// len is the number of writes under way or waiting for their echo.
func (e *Echoes) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.m)
}

func svcAt(name, rv string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name, ResourceVersion: rv}}
}

func TestEchoes(t *testing.T) {
	owner := types.NamespacedName{Namespace: "team", Name: "triton"}
	key := types.NamespacedName{Namespace: "team", Name: "a"}
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		// during: events that arrive while the write is under way; written: the version the
		// write returned ("" for none); after: the event that arrives afterwards.
		during  []string
		written string
		after   *corev1.Service
		// passedOver: whether after is passed over; recheck: whether the reconcile must look
		// again.
		passedOver, recheck bool
	}{
		{name: "the echo after the response", written: "5", after: svcAt("a", "5"), passedOver: true},
		{name: "the echo before the response", during: []string{"5"}, written: "5", after: svcAt("a", "6"), passedOver: false},
		{name: "someone else's change during the write", during: []string{"4"}, written: "5", after: svcAt("a", "5"), passedOver: true, recheck: true},
		{name: "the echo and someone else's change during the write", during: []string{"5", "6"}, written: "5", after: svcAt("a", "7"), recheck: true},
		{name: "a later version after the response", written: "5", after: svcAt("a", "6"), passedOver: false},
		{name: "another object of the same version", written: "5", after: svcAt("b", "5"), passedOver: false},
		{name: "nothing written", written: "", after: svcAt("a", "5"), passedOver: false},
		{name: "nothing written, but an event during the check", during: []string{"5"}, written: "", after: svcAt("a", "5"), recheck: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e Echoes
			e.Begin("Service", key, now)
			for _, rv := range tc.during {
				if !e.IsEcho("Service", svcAt("a", rv)) {
					t.Fatalf("the event of version %s during the write was not held back", rv)
				}
			}
			var written *corev1.Service
			if tc.written != "" {
				written = svcAt("a", tc.written)
			}
			if written != nil {
				e.End("Service", key, owner, written)
			} else {
				e.End("Service", key, owner, nil)
			}
			if got := e.IsEcho("Service", tc.after); got != tc.passedOver {
				t.Fatalf("the event after the write passed over: %v, want %v", got, tc.passedOver)
			}
			if got := e.RecheckOf(owner); got != tc.recheck {
				t.Fatalf("recheck = %v, want %v", got, tc.recheck)
			}
			if e.RecheckOf(owner) {
				t.Fatal("recheck reported twice")
			}
			if tc.passedOver && e.IsEcho("Service", tc.after) {
				t.Fatal("an echo was passed over twice")
			}
		})
	}
}

func TestEchoesOfOtherKinds(t *testing.T) {
	var e Echoes
	key := types.NamespacedName{Namespace: "team", Name: "a"}
	e.Begin("Service", key, time.Now())
	if e.IsEcho("InferenceExposure", svcAt("a", "5")) {
		t.Fatal("an exposure of the Service's name was held back")
	}
}

func TestEchoesExpire(t *testing.T) {
	var e Echoes
	owner := types.NamespacedName{Namespace: "team", Name: "triton"}
	start := time.Unix(1000, 0)
	lost := types.NamespacedName{Namespace: "team", Name: "lost"}
	e.Begin("Service", lost, start)
	e.End("Service", lost, owner, svcAt("lost", "5"))
	// A write whose echo never came (the watch restarted with a list) is dropped once it is
	// older than echoTTL, at the next write after a sweep interval.
	e.Begin("Service", types.NamespacedName{Namespace: "team", Name: "b"}, start.Add(echoTTL+echoSweep+time.Second))
	if e.len() != 1 {
		t.Fatalf("after the sweep %d entries are left, want only the recent write", e.len())
	}
}

func TestNotEchoPredicate(t *testing.T) {
	var e Echoes
	owner := types.NamespacedName{Namespace: "team", Name: "triton"}
	key := types.NamespacedName{Namespace: "team", Name: "a"}
	p := e.NotEcho("Service")
	e.Begin("Service", key, time.Now())
	e.End("Service", key, owner, svcAt("a", "5"))
	if p.Create(event.CreateEvent{Object: svcAt("a", "5")}) {
		t.Fatal("the echo of the operator's own create queued the exposure")
	}
	if !p.Update(event.UpdateEvent{ObjectOld: svcAt("a", "5"), ObjectNew: svcAt("a", "6")}) {
		t.Fatal("someone else's change was passed over")
	}
	if !p.Delete(event.DeleteEvent{Object: svcAt("a", "6")}) {
		t.Fatal("a delete was passed over")
	}
}

// BenchmarkEchoes: a write and its echo while 10,000 other writes wait for theirs, as during a
// burst of creates (every watch event of the exposure controller asks isEcho).
func BenchmarkEchoes(b *testing.B) {
	var e Echoes
	now := time.Unix(1000, 0)
	owner := types.NamespacedName{Namespace: "team", Name: "triton"}
	for i := range 10000 {
		key := types.NamespacedName{Namespace: "team", Name: fmt.Sprintf("svc-%05d", i)}
		e.Begin("Service", key, now)
		e.End("Service", key, owner, svcAt(key.Name, "7"))
	}
	key := types.NamespacedName{Namespace: "team", Name: "a"}
	written, other := svcAt("a", "5"), svcAt("a", "6")
	b.ReportAllocs()
	for b.Loop() {
		e.Begin("Service", key, now)
		e.End("Service", key, owner, written)
		if e.IsEcho("Service", other) || !e.IsEcho("Service", written) {
			b.Fatal("wrong verdict")
		}
	}
}
