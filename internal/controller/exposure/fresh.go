package exposure

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// freshExposures are the exposures this process saw being created (not in its cache's initial
// list) that no reconcile has applied routing objects for yet. Only the operator makes routing
// objects an exposure controls, and only the leader reconciles, so such an exposure controls
// none: its first routing needs no clean-up, which lists the namespace's routing objects of
// every served kind. Any other exposure (one that existed before this process started, or
// whose routing was applied once, even if its status write then failed) is cleaned up as
// before. An entry lives from the exposure's creation to its first routing.
type freshExposures struct {
	mu sync.Mutex
	m  map[types.NamespacedName]types.UID
}

// observe is a predicate that records exposures created while this process runs.
func (f *freshExposures) observe() predicate.Funcs {
	return predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool {
		if !e.IsInInitialList {
			f.mu.Lock()
			if f.m == nil {
				f.m = map[types.NamespacedName]types.UID{}
			}
			f.m[client.ObjectKeyFromObject(e.Object)] = e.Object.GetUID()
			f.mu.Unlock()
		}
		return true
	}}
}

// take reports whether obj is fresh, and makes it no longer so: its routing is being applied.
func (f *freshExposures) take(obj client.Object) bool {
	key := client.ObjectKeyFromObject(obj)
	f.mu.Lock()
	defer f.mu.Unlock()
	uid, ok := f.m[key]
	f.drop(key)
	return ok && uid == obj.GetUID()
}

// drop deletes an entry, and the whole map once it is empty: a Go map keeps the room its
// largest size needed, after a burst of creates.
func (f *freshExposures) drop(key types.NamespacedName) {
	delete(f.m, key)
	if len(f.m) == 0 {
		f.m = nil
	}
}

// forget drops an exposure that is gone before its first routing.
func (f *freshExposures) forget(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop(key)
}
