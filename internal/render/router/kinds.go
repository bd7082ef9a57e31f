package router

import (
	"fmt"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// Kind is one kind of routing object the operator writes. Each kind lives in a file of its
// own (ingress.go, openshift_route.go, gateway_httproute.go, ...) with its builder, its
// verdict and its RBAC markers, and registers itself; the controller walks the registry for
// API discovery, watches, cleanup and conditions, and never switches on a kind. Adding a kind
// is adding a file.
type Kind interface {
	// GVK is the group, version and kind the operator writes.
	GVK() schema.GroupVersionKind
	// New and NewList return an empty object and an empty list of the kind.
	New() client.Object
	NewList() client.ObjectList
	// Conditions are the exposure condition types the kind reports on.
	Conditions() []string
	// Condition is the condition type reporting the exposure's object of that name.
	Condition(exp *exposurev1alpha1.InferenceExposure, name string) string
	// Verdict is what the kind's own controller says of the exposure's objects that share a
	// condition (read from their status).
	Verdict(exp *exposurev1alpha1.InferenceExposure, objs []client.Object) Verdict
	// ServedBy names what must serve the exposure's object and report on it.
	ServedBy(exp *exposurev1alpha1.InferenceExposure, obj client.Object) Server
}

// Server is what serves a routing object and writes its status: an IngressClass, a Gateway,
// or, when neither is set, any router of the kind (OpenShift routers admit Routes).
type Server struct {
	// IngressClass is the Ingress's class; "" is the cluster's default class.
	IngressClass *string
	// Gateway is the Gateway the object attaches to.
	Gateway *types.NamespacedName
	// ListenerSet is the tenant's ListenerSet the object attaches to.
	ListenerSet *types.NamespacedName
}

var (
	registryMu sync.Mutex
	registry   = map[schema.GroupVersionKind]Kind{}
)

// register adds a kind; each kind's file calls it from init.
func register(k Kind) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[k.GVK()]; dup {
		panic("routing kind registered twice: " + k.GVK().String())
	}
	registry[k.GVK()] = k
}

// Kinds are the registered routing kinds, in a fixed order (by group, then kind).
func Kinds() []Kind {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]Kind, 0, len(registry))
	for _, k := range registry {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].GVK(), out[j].GVK()
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Kind < b.Kind
	})
	return out
}

// KindFor returns the registered kind of gvk; an unknown kind is an error, never a default.
func KindFor(gvk schema.GroupVersionKind) (Kind, error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	k, ok := registry[gvk]
	if !ok {
		return nil, fmt.Errorf("%s is not a routing kind the operator knows", gvk)
	}
	return k, nil
}

// Conditions are the condition types of every kind, after Routed; sorted, without repeats.
func Conditions() []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range Kinds() {
		for _, c := range k.Conditions() {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return append([]string{exposurev1alpha1.ConditionRouted}, out...)
}
