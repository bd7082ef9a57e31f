package controller

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
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
)

// nodePortView mirrors the Services of the cache as node port -> holder, kept by an event handler
// on the Service informer. A reconcile asks it which ports of a block are held without listing
// (and copying) Services: listing a 300-port block's Services for every exposure was 44 % of
// everything the operator allocated at 5,000 exposures.
type nodePortView struct {
	mu sync.RWMutex
	// byPort[p] is 1 + the index in held of the Service holding node port p, 0 when free: a
	// fixed 256 KiB instead of a map entry per port (30,000 ports at 10,000 exposures took
	// 5.8 MB as maps).
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
	holder portHolder
	ports  []int32
}

// maxNodePort bounds the view: node ports are TCP/UDP ports.
const maxNodePort = 65535

// portHolder is the Service holding a node port.
type portHolder struct {
	key types.NamespacedName
	// exposure: the Service's controller is an InferenceExposure. Which tenant it belongs to
	// is decided by its namespace (ownedBy), never by its labels, which anyone can set.
	exposure bool
}

// ownedBy reports whether the holder is a Service of an exposure in one of namespaces.
func (h portHolder) ownedBy(namespaces map[string]bool) bool {
	return h.exposure && namespaces[h.key.Namespace]
}

func newNodePortView() *nodePortView {
	return &nodePortView{byPort: make([]uint32, maxNodePort+1), bySvc: map[types.NamespacedName]uint32{}}
}

// at returns the Service holding port; the caller holds mu.
func (n *nodePortView) at(port int32) (portHolder, bool) {
	if port < 0 || port > maxNodePort || n.byPort[port] == 0 {
		return portHolder{}, false
	}
	return n.held[n.byPort[port]-1].holder, true
}

// nodePortsFrom builds the view from a list, for reconcilers driven by hand in tests.
func nodePortsFrom(services []corev1.Service) *nodePortView {
	n := newNodePortView()
	for i := range services {
		n.set(&services[i])
	}
	return n
}

// watchNodePorts keeps a view up to date from the cache's Service informer.
func watchNodePorts(ctx context.Context, c cache.Cache) (*nodePortView, error) {
	inf, err := c.GetInformer(ctx, &corev1.Service{})
	if err != nil {
		return nil, fmt.Errorf("service informer: %w", err)
	}
	n := newNodePortView()
	n.freed = make(chan event.GenericEvent, 1024)
	notify := func(svc *corev1.Service) {
		select {
		case n.freed <- event.GenericEvent{Object: svc}:
		default: // nobody drains it (a standby replica) or a burst: waiters also retry every minute
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { n.setAny(o) },
		UpdateFunc: func(old, o any) {
			n.setAny(o)
			before, okB := old.(*corev1.Service)
			after, okA := o.(*corev1.Service)
			if okB && okA && slices.ContainsFunc(kubecache.ServiceNodePorts(before), func(p int32) bool { return !slices.Contains(kubecache.ServiceNodePorts(after), p) }) {
				notify(before)
			}
		},
		DeleteFunc: func(o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if svc, ok := o.(*corev1.Service); ok {
				n.remove(types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name})
				if len(kubecache.ServiceNodePorts(svc)) > 0 {
					notify(svc)
				}
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("watching services: %w", err)
	}
	return n, nil
}

func (n *nodePortView) setAny(o any) {
	if svc, ok := o.(*corev1.Service); ok {
		n.set(svc)
	}
}

// set records the ports svc holds now, replacing what it held before.
func (n *nodePortView) set(svc *corev1.Service) {
	key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	h := portHolder{key: key}
	if c := metav1.GetControllerOf(svc); c != nil && c.Kind == "InferenceExposure" && c.APIVersion == exposurev1alpha1.GroupVersion.String() {
		h.exposure = true
	}
	ports := kubecache.ServiceNodePorts(svc)
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

func (n *nodePortView) remove(key types.NamespacedName) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeLocked(key)
}

func (n *nodePortView) removeLocked(key types.NamespacedName) {
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

// reading runs fn with the view held still; held, valid only inside fn, returns the Service
// holding a port without taking the lock for each port (an assignment asks about hundreds).
func (n *nodePortView) reading(fn func(held func(port int32) (portHolder, bool))) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	fn(n.at)
}

// inRange calls fn for every held port of r, in ascending order.
func (n *nodePortView) inRange(r allocator.Range, fn func(port int32, h portHolder)) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for p := r.Start; p <= r.End; p++ {
		if h, ok := n.at(p); ok {
			fn(p, h)
		}
	}
}

// foreign returns every port held by a Service that is not an exposure's in namespaces.
func (n *nodePortView) foreign(namespaces map[string]bool) []int32 {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var out []int32
	for _, hp := range n.held {
		if len(hp.ports) > 0 && !hp.holder.ownedBy(namespaces) {
			for _, p := range hp.ports {
				if h, ok := n.at(p); ok && h == hp.holder {
					out = append(out, p)
				}
			}
		}
	}
	return out
}
