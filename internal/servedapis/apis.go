// Package servedapis tells which routing APIs the cluster serves, from discovery polled in the
// background, and calls back when one appears or goes.
package servedapis

import (
	"context"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// APIs knows which routing kinds the cluster serves. It asks discovery at start and
// then every Interval, so CRDs installed after the operator started are picked up; listeners
// hear about every kind that appears or disappears.
type APIs struct {
	Discovery discovery.DiscoveryInterface
	Interval  time.Duration
	// Also are kinds to follow besides the routing kinds (the tenants' ListenerSets).
	Also []schema.GroupVersionKind

	mu        sync.RWMutex
	served    map[schema.GroupVersionKind]bool
	listeners []func(gvk schema.GroupVersionKind, served bool)
}

// Served reports whether the cluster serves the kind.
func (a *APIs) Served(gvk schema.GroupVersionKind) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.served[gvk]
}

// OnChange registers a listener.
func (a *APIs) OnChange(f func(gvk schema.GroupVersionKind, served bool)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.listeners = append(a.listeners, f)
}

// Refresh asks discovery again. A group version that discovery cannot answer for (other than
// "not found") keeps its last known state.
func (a *APIs) Refresh(ctx context.Context) {
	now := map[schema.GroupVersionKind]bool{}
	byGV := map[schema.GroupVersion][]schema.GroupVersionKind{}
	for _, k := range a.kinds() {
		byGV[k.GroupVersion()] = append(byGV[k.GroupVersion()], k)
	}
	for gv, kinds := range byGV {
		list, err := a.Discovery.ServerResourcesForGroupVersion(gv.String())
		if err != nil && !apierrors.IsNotFound(err) {
			logf.FromContext(ctx).V(1).Info("discovery failed, keeping the last answer", "groupVersion", gv.String(), "error", err.Error())
			for _, k := range kinds {
				now[k] = a.Served(k)
			}
			continue
		}
		if list == nil {
			continue
		}
		for _, k := range kinds {
			for _, r := range list.APIResources {
				if r.Kind == k.Kind && !strings.Contains(r.Name, "/") { // not a subresource
					now[k] = true
				}
			}
		}
	}
	a.mu.Lock()
	var changed []schema.GroupVersionKind
	for _, k := range a.kinds() {
		if a.served[k] != now[k] {
			changed = append(changed, k)
		}
	}
	a.served = now
	listeners := append([]func(schema.GroupVersionKind, bool){}, a.listeners...)
	a.mu.Unlock()
	for _, k := range changed {
		logf.FromContext(ctx).Info("routing API availability changed", "kind", k.Kind, "groupVersion", k.GroupVersion().String(), "served", now[k])
		for _, f := range listeners {
			f(k, now[k])
		}
	}
}

// kinds are the routing kinds and the Also kinds.
func (a *APIs) kinds() []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(a.Also)+8)
	for _, k := range router.Kinds() {
		out = append(out, k.GVK())
	}
	return append(out, a.Also...)
}

// Start polls discovery until ctx ends (a manager Runnable).
func (a *APIs) Start(ctx context.Context) error {
	t := time.NewTicker(a.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			a.Refresh(ctx)
		}
	}
}

// NeedLeaderElection is false: every replica needs to know what is served.
func (a *APIs) NeedLeaderElection() bool { return false }
