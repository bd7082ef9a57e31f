package kubecache

import (
	"reflect"
	"strings"
	"unique"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// CacheOptions are the manager's cache settings: ConfigMaps only from the HAProxy ConfigMap's
// namespace (when set), routing objects the operator did not make as shells (foreignRoutingShell),
// and no managedFields anywhere (a third of the heap at 5,000
// exposures). Nodes keep what the HAProxy configuration reads (labels, readiness, addresses),
// not their image lists; Services the operator does not manage keep no annotations (a
// last-applied-configuration can be larger than the rest of the object); the operator never
// writes either kind, so nothing it stripped can be written back.
func CacheOptions(haproxyNamespace string) cache.Options {
	opts := cache.Options{
		DefaultTransform: stripAndIntern,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Node{}:    {Transform: stripNode},
			&corev1.Service{}: {Transform: stripForeignService},
			// The operator writes only the status of tenants and exposures (and a tenant's
			// finalizer, by a patch of that field): a client-side apply's copy of the whole
			// object is dead weight in memory.
			&exposurev1alpha1.InferenceExposure{}: {Transform: stripExposure},
			&exposurev1alpha1.InferenceTenant{}:   {Transform: stripLastApplied},
		},
	}
	if haproxyNamespace != "" {
		opts.ByObject[&corev1.ConfigMap{}] = cache.ByObject{Namespaces: map[string]cache.Config{haproxyNamespace: {}}, Transform: stripAndIntern}
	}
	return opts
}

// stripAndIntern drops managedFields and shares the strings that every object repeats; a
// routing object the operator did not make is kept as a shell.
func stripAndIntern(o any) (any, error) {
	if shell, ok := foreignRoutingShell(o); ok {
		return shell, nil
	}
	if m, ok := o.(metav1.Object); ok {
		m.SetManagedFields(nil)
		internMeta(m)
	}
	return o, nil
}

// routingKinds are the routing kinds by Go type, for the cache transform.
var routingKinds = func() map[reflect.Type]router.Kind {
	out := map[reflect.Type]router.Kind{}
	for _, k := range router.Kinds() {
		out[reflect.TypeOf(k.New())] = k
	}
	return out
}()

// foreignRoutingShell keeps only the identity, labels and owners of a routing object without
// the operator's label: the operator asks of such an object only whether it exists and whose
// it is (a same-named object it must leave alone, or its own child someone stripped of the
// label). A cluster's other Ingresses and routes, often thousands with large annotations,
// would otherwise be cached whole.
func foreignRoutingShell(o any) (client.Object, bool) {
	kind, ok := routingKinds[reflect.TypeOf(o)]
	if !ok {
		return nil, false
	}
	obj := o.(client.Object)
	if obj.GetLabels()[exposurev1alpha1.LabelManagedBy] == exposurev1alpha1.ManagedByValue {
		return nil, false
	}
	shell := kind.New()
	copyIdentity(shell, obj)
	// The hosts it serves, which another namespace's exposure may not take (an annotation of
	// the shell only: the cache's copy is never written back).
	hosts := router.ServedHosts(obj)
	if len(hosts) == 0 {
		hosts = ShellHosts(obj) // already a shell: the transform may see an object twice
	}
	if len(hosts) > 0 {
		shell.SetAnnotations(map[string]string{AnnotationServedHosts: strings.Join(hosts, ",")})
	}
	return shell, true
}

// AnnotationServedHosts holds, on the cache's shell of a routing object the operator did not
// make, the hosts that object serves.
const AnnotationServedHosts = "exposure.inference.dev/served-hosts"

// ShellHosts are the hosts a routing object's cache shell says it serves.
func ShellHosts(o client.Object) []string {
	if v := o.GetAnnotations()[AnnotationServedHosts]; v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// copyIdentity gives a cache shell what the operator reads of any object it does not own:
// identity, labels and owners (with its strings shared).
func copyIdentity(shell, obj metav1.Object) {
	shell.SetName(obj.GetName())
	shell.SetNamespace(obj.GetNamespace())
	shell.SetUID(obj.GetUID())
	shell.SetResourceVersion(obj.GetResourceVersion())
	shell.SetGeneration(obj.GetGeneration())
	shell.SetCreationTimestamp(obj.GetCreationTimestamp())
	shell.SetDeletionTimestamp(obj.GetDeletionTimestamp())
	shell.SetLabels(obj.GetLabels())
	shell.SetOwnerReferences(obj.GetOwnerReferences())
	internMeta(shell)
}

// intern returns the one shared copy of s.
func intern(s string) string { return unique.Make(s).Value() }

// internMeta shares the strings that tens of thousands of cached objects repeat: decoding gives
// each object its own copy of its namespace, label and annotation keys, the operator's label
// values and its owner's group/version and kind. Values that are unique or nearly so (the
// exposure's name, annotation values) stay as decoded: a shared copy would cost more than it saves.
func internMeta(m metav1.Object) {
	m.SetNamespace(intern(m.GetNamespace()))
	internLabels(m)
	if a := m.GetAnnotations(); len(a) > 0 {
		out := make(map[string]string, len(a))
		for k, v := range a {
			out[intern(k)] = v
		}
		m.SetAnnotations(out)
	}
	refs := m.GetOwnerReferences()
	for i := range refs {
		refs[i].APIVersion, refs[i].Kind = intern(refs[i].APIVersion), intern(refs[i].Kind)
	}
}

// internLabels gives m the shared map of its label set (sharedLabelMaps), with shared strings.
func internLabels(m metav1.Object) {
	l := m.GetLabels()
	if len(l) == 0 {
		return
	}
	m.SetLabels(sharedLabelMaps.shared(l, internedLabels))
}

// internedLabels copies l with its keys and its values other than the exposure's name shared.
func internedLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		if k != exposurev1alpha1.LabelExposure {
			v = intern(v)
		}
		out[intern(k)] = v
	}
	return out
}

// stripExposure is stripLastApplied plus shared condition strings: an exposure carries about
// ten conditions whose types, statuses, reasons and some messages are the same everywhere.
func stripExposure(o any) (any, error) {
	if _, err := stripLastApplied(o); err != nil {
		return o, err
	}
	if e, ok := o.(*exposurev1alpha1.InferenceExposure); ok {
		for i := range e.Status.Conditions {
			c := &e.Status.Conditions[i]
			c.Type = intern(c.Type)
			c.Status = metav1.ConditionStatus(intern(string(c.Status)))
			c.Reason = intern(c.Reason)
			if c.Message == exposurev1alpha1.MessageReady || c.Type == exposurev1alpha1.ConditionTenantResolved {
				c.Message = intern(c.Message) // the same for every exposure, or every one of a namespace
			}
		}
		e.Status.Tenant = intern(e.Status.Tenant)
	}
	return o, nil
}

func stripLastApplied(o any) (any, error) {
	if m, ok := o.(metav1.Object); ok {
		m.SetManagedFields(nil)
		// Dropped before the annotations are copied with shared keys; an object whose only
		// annotation it was (one written with kubectl apply) keeps no empty map.
		if a := m.GetAnnotations(); a[corev1.LastAppliedConfigAnnotation] != "" {
			delete(a, corev1.LastAppliedConfigAnnotation)
			if len(a) == 0 {
				a = nil
			}
			m.SetAnnotations(a)
		}
		internMeta(m)
	}
	return o, nil
}

func stripNode(o any) (any, error) {
	if n, ok := o.(*corev1.Node); ok {
		n.ManagedFields = nil
		n.Status.Images = nil
		n.Status.VolumesInUse = nil
		n.Status.VolumesAttached = nil
		n.Annotations = nil
		internMeta(n)
	}
	return o, nil
}

// stripForeignService keeps the operator's Services whole (without managedFields) and every
// other Service as what the operator reads of it: identity, labels, owners (is it an
// exposure's?), and the node ports it holds with their names (an exposure's own Service
// stripped of its label keeps its ports). Selectors, cluster IPs, annotations (a
// last-applied-configuration can outweigh the rest) and status are dropped: a cluster has
// thousands of Services that are none of the operator's business.
func stripForeignService(o any) (any, error) {
	s, ok := o.(*corev1.Service)
	if !ok {
		return o, nil
	}
	if s.Labels[exposurev1alpha1.LabelManagedBy] == exposurev1alpha1.ManagedByValue {
		s.ManagedFields = nil
		internMeta(s)
		return s, nil
	}
	shell := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceType(intern(string(s.Spec.Type))), HealthCheckNodePort: s.Spec.HealthCheckNodePort}}
	copyIdentity(shell, s)
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 {
			shell.Spec.Ports = append(shell.Spec.Ports, corev1.ServicePort{Name: p.Name, Protocol: corev1.Protocol(intern(string(p.Protocol))), Port: p.Port, NodePort: p.NodePort})
		}
	}
	return shell, nil
}

// ServiceNodePorts lists every node port a Service holds (nodePorts and healthCheckNodePort).
func ServiceNodePorts(svc *corev1.Service) []int32 {
	var out []int32
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, p.NodePort)
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		out = append(out, svc.Spec.HealthCheckNodePort)
	}
	return out
}
