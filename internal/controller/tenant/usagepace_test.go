package tenant

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// TestUsagePace: a tenant whose Services change every second for a burst of the given length
// is reconciled every second; count the usage writes, check the longest gap between them, and
// that the final figures go out within usageQuiet of the last change.
func TestUsagePace(t *testing.T) {
	for _, tc := range []struct {
		burst     time.Duration
		maxWrites int
	}{
		{burst: 0, maxWrites: 1},                 // one Service
		{burst: 15 * time.Second, maxWrites: 3},  // 1,000 exposures over 20 tenants
		{burst: 220 * time.Second, maxWrites: 9}, // 10,000 over 50: about 44 writes at one per 5 s
		{burst: 30 * time.Minute, maxWrites: 50},
	} {
		t.Run(tc.burst.String(), func(t *testing.T) {
			var p usagePaces
			start := time.Unix(1_000_000, 0)
			last := start.Add(tc.burst)
			var writes []time.Time
			pending := false // figures changed since the last write
			for now := start; !now.After(last.Add(2 * usageQuiet)); now = now.Add(time.Second) {
				if !now.After(last) {
					p.changed("alpha", now)
					pending = true
				}
				if pending && p.wait("alpha", now) == 0 {
					p.wrote("alpha", now)
					writes = append(writes, now)
					pending = false
				}
			}
			if pending {
				t.Fatal("the final figures were never written")
			}
			final := writes[len(writes)-1]
			if final.Sub(last) > usageQuiet {
				t.Errorf("final figures %s after the last change, want within %s", final.Sub(last), usageQuiet)
			}
			t.Logf("%d writes", len(writes))
			if len(writes) > tc.maxWrites {
				t.Errorf("%d writes for a %s burst, want at most %d", len(writes), tc.burst, tc.maxWrites)
			}
			for i := 1; i < len(writes); i++ {
				if gap := writes[i].Sub(writes[i-1]); gap > usageSpacingMax {
					t.Errorf("%s between writes %d and %d, want at most %s", gap, i-1, i, usageSpacingMax)
				}
			}
		})
	}
}

// TestUsagePaceAfterQuiet: after a quiet spell a change is written at once (the Service
// handler's delay of usageQuiet batches its neighbours), and the spacing starts over.
func TestUsagePaceAfterQuiet(t *testing.T) {
	var p usagePaces
	now := time.Unix(1_000_000, 0)
	for range 120 { // two minutes of changes: the spacing grows to its maximum
		p.changed("alpha", now)
		if p.wait("alpha", now) == 0 {
			p.wrote("alpha", now)
		}
		now = now.Add(time.Second)
	}
	if sp := p.m["alpha"].spacing; sp != usageSpacingMax {
		t.Fatalf("after two minutes of changes the spacing is %s, want %s", sp, usageSpacingMax)
	}
	now = now.Add(usageQuiet)
	if w := p.wait("alpha", now); w != 0 {
		t.Fatalf("the final figures wait %s after the quiet", w)
	}
	p.wrote("alpha", now)
	now = now.Add(time.Minute)
	p.changed("alpha", now)
	if w := p.wait("alpha", now); w != 0 {
		t.Fatalf("a change after a quiet spell waits %s", w)
	}
	p.wrote("alpha", now)
	now = now.Add(time.Second)
	p.changed("alpha", now)
	if w, sp := p.wait("alpha", now), p.m["alpha"].spacing; w != usageQuiet || sp != 2*usageSpacing {
		t.Errorf("the next change waits %s with a spacing of %s, want %s and %s: the spacing starts over", w, sp, usageQuiet, 2*usageSpacing)
	}
	if p.forget("alpha"); p.wait("alpha", now) != 0 {
		t.Error("a forgotten tenant still waits")
	}
}

func TestOnlyUsageDiffers(t *testing.T) {
	base := exposurev1alpha1.InferenceTenantStatus{PortsUsed: 3, PortsFree: 97, ForeignPorts: []int32{31000},
		Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready"}}}
	for _, tc := range []struct {
		name   string
		change func(*exposurev1alpha1.InferenceTenantStatus)
		want   bool
	}{
		{name: "nothing", change: func(*exposurev1alpha1.InferenceTenantStatus) {}},
		{name: "used and free", change: func(s *exposurev1alpha1.InferenceTenantStatus) { s.PortsUsed, s.PortsFree = 4, 96 }, want: true},
		{name: "foreign ports", change: func(s *exposurev1alpha1.InferenceTenantStatus) { s.ForeignPorts = nil }, want: true},
		{name: "a condition", change: func(s *exposurev1alpha1.InferenceTenantStatus) { s.Conditions[0].Reason = "Other" }},
		{name: "usage and a condition", change: func(s *exposurev1alpha1.InferenceTenantStatus) { s.PortsUsed = 4; s.Conditions[0].Reason = "Other" }},
		{name: "the block", change: func(s *exposurev1alpha1.InferenceTenantStatus) {
			s.PortsUsed = 4
			s.PortBlock = &exposurev1alpha1.PortBlockStatus{Start: 30800, End: 30899, Size: 100}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := base.DeepCopy()
			tc.change(want)
			if got := onlyUsageDiffers(&base, want); got != tc.want {
				t.Errorf("onlyUsageDiffers = %v, want %v", got, tc.want)
			}
		})
	}
}
