package kubecache

import (
	"context"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/event"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// NodePortView mirrors the Services of the cache as node port -> holder, kept by an event handler
// on the Service informer. A reconcile asks it which ports of a block are held without listing
// (and copying) Services, which was most of what the operator allocated at scale.
type NodePortView struct {
	mu sync.RWMutex
	// byPort[p] is 1 + the index in held of the Service holding node port p, 0 when free: a
	// fixed array instead of a map entry per port.
	byPort []uint32
	held   []heldPorts // by index; unused ones are listed in free
	free   []uint32
	bySvc  map[types.NamespacedName]uint32 // index in held
	// freed receives a Service that gave ports back, after the view no longer lists them, so
	// that what waits for free ports (exposures in a full block) looks again at a view that
	// already shows them free.
	freed chan event.GenericEvent
}

// heldPorts is a Service of the view and the node ports it holds.
type heldPorts struct {
	holder PortHolder
	ports  []int32
}

// maxNodePort bounds the view: node ports are TCP/UDP ports.
const maxNodePort = 65535

// PortHolder is the Service holding a node port.
type PortHolder struct {
	Key types.NamespacedName
	// exposure: the Service's controller is an InferenceExposure. Which tenant it belongs to
	// is decided by its namespace (ownedBy), never by its labels, which anyone can set.
	Exposure bool
}

// ownedBy reports whether the holder is a Service of an exposure in one of namespaces.
func (h PortHolder) OwnedBy(namespaces map[string]bool) bool {
	return h.Exposure && namespaces[h.Key.Namespace]
}

func NewNodePortView() *NodePortView {
	return &NodePortView{byPort: make([]uint32, maxNodePort+1), bySvc: map[types.NamespacedName]uint32{}}
}

// at returns the Service holding port; the caller holds mu.
func (n *NodePortView) at(port int32) (PortHolder, bool) {
	if port < 0 || port > maxNodePort || n.byPort[port] == 0 {
		return PortHolder{}, false
	}
	return n.held[n.byPort[port]-1].holder, true
}

// Freed is the channel of Services that gave node ports back (nil for a view built by hand).
func (n *NodePortView) Freed() <-chan event.GenericEvent { return n.freed }

// NodePortsFrom builds the view from a list, for reconcilers driven by hand in tests.
func NodePortsFrom(services []corev1.Service) *NodePortView {
	n := NewNodePortView()
	for i := range services {
		n.Set(&services[i])
	}
	return n
}

// WatchNodePorts keeps a view up to date from the cache's Service informer.
func WatchNodePorts(ctx context.Context, c cache.Cache) (*NodePortView, error) {
	inf, err := c.GetInformer(ctx, &corev1.Service{})
	if err != nil {
		return nil, fmt.Errorf("service informer: %w", err)
	}
	n := NewNodePortView()
	n.freed = make(chan event.GenericEvent, 1024)
	notify := func(svc *corev1.Service) {
		select {
		case n.freed <- event.GenericEvent{Object: svc}:
		default: // nobody drains it (a standby replica) or a burst: waiters also retry every minute
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { n.SetAny(o) },
		UpdateFunc: func(old, o any) {
			n.SetAny(o)
			before, okB := old.(*corev1.Service)
			after, okA := o.(*corev1.Service)
			if okB && okA && slices.ContainsFunc(ServiceNodePorts(before), func(p int32) bool { return !slices.Contains(ServiceNodePorts(after), p) }) {
				notify(before)
			}
		},
		DeleteFunc: func(o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if svc, ok := o.(*corev1.Service); ok {
				n.Remove(types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name})
				if len(ServiceNodePorts(svc)) > 0 {
					notify(svc)
				}
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("watching services: %w", err)
	}
	return n, nil
}

func (n *NodePortView) SetAny(o any) {
	if svc, ok := o.(*corev1.Service); ok {
		n.Set(svc)
	}
}

// Set records the ports svc holds now, replacing what it held before.
func (n *NodePortView) Set(svc *corev1.Service) {
	key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	h := PortHolder{Key: key}
	if c := metav1.GetControllerOf(svc); c != nil && c.Kind == "InferenceExposure" && c.APIVersion == exposurev1alpha1.GroupVersion.String() {
		h.Exposure = true
	}
	ports := ServiceNodePorts(svc)
	ports = slices.DeleteFunc(ports, func(p int32) bool { return p < 0 || p > maxNodePort })
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeLocked(key)
	if len(ports) == 0 {
		return
	}
	var i uint32
	if last := len(n.free) - 1; last >= 0 {
		i, n.free = n.free[last], n.free[:last]
		n.held[i] = heldPorts{holder: h, ports: ports}
	} else {
		i = uint32(len(n.held))
		n.held = append(n.held, heldPorts{holder: h, ports: ports})
	}
	n.bySvc[key] = i
	for _, p := range ports {
		n.byPort[p] = i + 1 // a port two Services claim (one deleted, its event not here yet) is the later one's
	}
}

func (n *NodePortView) Remove(key types.NamespacedName) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeLocked(key)
}

func (n *NodePortView) removeLocked(key types.NamespacedName) {
	i, ok := n.bySvc[key]
	if !ok {
		return
	}
	for _, p := range n.held[i].ports {
		if n.byPort[p] == i+1 {
			n.byPort[p] = 0
		}
	}
	n.held[i] = heldPorts{}
	n.free = append(n.free, i)
	delete(n.bySvc, key)
}

// Reading runs fn with the view held still; held, valid only inside fn, returns the Service
// holding a port without taking the lock for each port (an assignment asks about hundreds).
func (n *NodePortView) Reading(fn func(held func(port int32) (PortHolder, bool))) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	fn(n.at)
}

// InRange calls fn for every held port of r, in ascending order.
func (n *NodePortView) InRange(r allocator.Range, fn func(port int32, h PortHolder)) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for p := r.Start; p <= r.End; p++ {
		if h, ok := n.at(p); ok {
			fn(p, h)
		}
	}
}

// Foreign returns every port held by a Service that is not an exposure's in namespaces.
func (n *NodePortView) Foreign(namespaces map[string]bool) []int32 {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var out []int32
	for _, hp := range n.held {
		if len(hp.ports) > 0 && !hp.holder.OwnedBy(namespaces) {
			for _, p := range hp.ports {
				if h, ok := n.at(p); ok && h == hp.holder {
					out = append(out, p)
				}
			}
		}
	}
	return out
}
