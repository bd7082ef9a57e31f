package exposure

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
)

// foreignHosts mirrors the hosts served by routing objects that no exposure controls (a
// platform's own Ingress, a Route made by hand), kept by event handlers on the routing kinds'
// informers: an exposure of another namespace may not take such a host when the object is
// older than the exposure.
type foreignHosts struct {
	mu     sync.RWMutex
	byHost map[string]map[foreignRef]metav1.Time
	byRef  map[foreignRef][]string
	// released is told the hosts an object stopped serving (it went, or its hosts changed), so
	// that the exposures it kept out look again.
	released func(hosts []string)
}

type foreignRef struct{ kind, namespace, name string }

func newForeignHosts(released func([]string)) *foreignHosts {
	return &foreignHosts{byHost: map[string]map[foreignRef]metav1.Time{}, byRef: map[foreignRef][]string{}, released: released}
}

// handler keeps the view from one routing kind's informer.
func (f *foreignHosts) handler(kind string) toolscache.ResourceEventHandler {
	set := func(o any) {
		if obj, ok := o.(client.Object); ok {
			f.set(kind, obj)
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, o any) { set(o) },
		DeleteFunc: func(o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if obj, ok := o.(client.Object); ok {
				f.remove(foreignRef{kind, obj.GetNamespace(), obj.GetName()})
			}
		},
	}
}

// set records the hosts obj serves, when no exposure controls it.
func (f *foreignHosts) set(kind string, obj client.Object) {
	ref := foreignRef{kind, obj.GetNamespace(), obj.GetName()}
	if c := metav1.GetControllerOf(obj); c != nil && c.Kind == "InferenceExposure" || obj.GetLabels()[exposurev1alpha1.LabelManagedBy] == exposurev1alpha1.ManagedByValue {
		f.remove(ref) // an exposure's child: host conflicts among exposures decide
		return
	}
	hosts := kubecache.ShellHosts(obj)
	f.mu.Lock()
	old := f.unindex(ref)
	if len(hosts) == 0 {
		delete(f.byRef, ref)
	} else {
		f.byRef[ref] = hosts
		for _, h := range hosts {
			if f.byHost[h] == nil {
				f.byHost[h] = map[foreignRef]metav1.Time{}
			}
			f.byHost[h][ref] = obj.GetCreationTimestamp()
		}
	}
	f.mu.Unlock()
	f.releasedFrom(old, hosts)
}

func (f *foreignHosts) remove(ref foreignRef) {
	f.mu.Lock()
	old := f.unindex(ref)
	delete(f.byRef, ref)
	f.mu.Unlock()
	f.releasedFrom(old, nil)
}

// unindex drops ref from the hosts it served and returns them; the caller holds mu.
func (f *foreignHosts) unindex(ref foreignRef) []string {
	old := f.byRef[ref]
	for _, h := range old {
		delete(f.byHost[h], ref)
		if len(f.byHost[h]) == 0 {
			delete(f.byHost, h)
		}
	}
	return old
}

func (f *foreignHosts) releasedFrom(old, now []string) {
	var gone []string
	for _, h := range old {
		keep := false
		for _, n := range now {
			keep = keep || n == h
		}
		if !keep {
			gone = append(gone, h)
		}
	}
	if len(gone) > 0 && f.released != nil {
		f.released(gone)
	}
}

// servedBefore reports whether a routing object no exposure controls, in a namespace other
// than namespace, served host before created.
func (f *foreignHosts) servedBefore(host, namespace string, created metav1.Time) bool {
	if f == nil || host == "" {
		return false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	for ref, t := range f.byHost[host] {
		if ref.namespace != namespace && t.Before(&created) {
			return true
		}
	}
	return false
}
