package tenant

import (
	"reflect"
	"slices"
	"sync"
	"time"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// A tenant's usage figures (portsUsed, portsFree, foreignPorts) change with every Service in
// its block. They are written once the tenant's Services have been quiet for usageQuiet, so the
// figures are final within seconds of the last change; while changes keep coming, every
// usageSpacing at first and then less and less often (up to usageSpacingMax), so that a long
// burst costs a tenant a handful of writes, not one per usageSpacing for as long as it lasts.
const (
	usageQuiet      = 5 * time.Second
	usageSpacing    = 5 * time.Second
	usageSpacingMax = 40 * time.Second
)

// usagePace is one tenant's record of Service changes and usage writes.
type usagePace struct {
	lastChange time.Time     // the last Service event that may change the figures
	lastWrite  time.Time     // the last write of changed figures
	spacing    time.Duration // the wait after lastWrite while changes keep coming (usageSpacing at first)
}

// due is when changed figures are to be written: when the Services have been quiet for
// usageQuiet, or the spacing after the last write has passed, whichever is first.
func (p usagePace) due() time.Time {
	quiet := p.lastChange.Add(usageQuiet)
	next := p.lastWrite.Add(p.spacing)
	if next.Before(quiet) {
		return next
	}
	return quiet
}

// wrote records a write at now: one made while changes keep coming doubles the spacing, one
// made after a quiet spell starts it over.
func (p *usagePace) wrote(now time.Time) {
	if now.Before(p.lastChange.Add(usageQuiet)) {
		p.spacing = min(2*p.spacing, usageSpacingMax)
	} else {
		p.spacing = usageSpacing
	}
	p.lastWrite = now
}

// usagePaces are the tenants' paces, by tenant name.
type usagePaces struct {
	mu sync.Mutex
	m  map[string]*usagePace
}

// changed records a Service event that may change the tenant's figures.
func (u *usagePaces) changed(tenant string, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]*usagePace{}
	}
	p := u.m[tenant]
	if p == nil {
		p = &usagePace{spacing: usageSpacing}
		u.m[tenant] = p
	}
	p.lastChange = now
}

// wait says how long a write that changes only the usage figures should wait (0: write now).
func (u *usagePaces) wait(tenant string, now time.Time) time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	if p := u.m[tenant]; p != nil {
		return max(p.due().Sub(now), 0)
	}
	return 0
}

// wrote records a write of the tenant's status that carried changed usage figures.
func (u *usagePaces) wrote(tenant string, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if p := u.m[tenant]; p != nil {
		p.wrote(now)
	}
}

// forget drops a tenant that is gone.
func (u *usagePaces) forget(tenant string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, tenant)
}

// usageDiffers reports whether the usage figures of want differ from have's.
func usageDiffers(have, want *exposurev1alpha1.InferenceTenantStatus) bool {
	return have.PortsUsed != want.PortsUsed || have.PortsFree != want.PortsFree || !slices.Equal(have.ForeignPorts, want.ForeignPorts)
}

// onlyUsageDiffers reports whether want differs from have in the usage figures alone.
func onlyUsageDiffers(have, want *exposurev1alpha1.InferenceTenantStatus) bool {
	if !usageDiffers(have, want) {
		return false
	}
	h, w := *have, *want
	h.PortsUsed, h.PortsFree, h.ForeignPorts = 0, 0, nil
	w.PortsUsed, w.PortsFree, w.ForeignPorts = 0, 0, nil
	return reflect.DeepEqual(h, w)
}
