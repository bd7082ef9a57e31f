// Package tenantgateway builds a tenant's ListenerSet on a shared Gateway and reads the
// Gateway's verdict on it. Every function is pure.
package tenantgateway

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=listenersets,verbs=get;list;watch;create;update;patch;delete

// GVK is the Gateway API ListenerSet kind.
var GVK = gatewayv1.SchemeGroupVersion.WithKind("ListenerSet")

// cert-manager's annotations on Gateway API objects: the issuer of the listeners' certificates.
const (
	annotationIssuer        = "cert-manager.io/issuer"
	annotationClusterIssuer = "cert-manager.io/cluster-issuer"
)

// Key is where the tenant's ListenerSet lives: named after the tenant, in spec.gateway.namespace
// or else the tenant's first namespace.
func Key(t *exposurev1alpha1.InferenceTenant) types.NamespacedName {
	ns := t.Spec.Gateway.Namespace
	if ns == "" && len(t.Spec.Namespaces) > 0 {
		ns = t.Spec.Namespaces[0]
	}
	return types.NamespacedName{Namespace: ns, Name: t.Name}
}

// SecretName is the Secret the listeners' certificate is in: the one named, or with an issuer
// the one cert-manager issues into.
func SecretName(t *exposurev1alpha1.InferenceTenant) string {
	if ref := t.Spec.Gateway.Certificate.SecretRef; ref != nil {
		return ref.Name
	}
	return t.Name + "-gateway-tls"
}

// ListenerSet is the tenant's listeners on its Gateway: HTTPS for *.<hostDomain> and for each
// allowedHosts entry, terminating TLS with the tenant's certificate, accepting HTTPRoutes and
// GRPCRoutes from the namespaces the tenant owns and from nowhere else. Owned by the tenant.
func ListenerSet(t *exposurev1alpha1.InferenceTenant, owned []string) *gatewayv1.ListenerSet {
	g := t.Spec.Gateway
	key := Key(t)
	port := g.Port
	if port == 0 {
		port = 443
	}
	cert := gatewayv1.SecretObjectReference{Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Secret")), Name: gatewayv1.ObjectName(SecretName(t))}
	if ref := g.Certificate.SecretRef; ref != nil && ref.Namespace != "" && ref.Namespace != key.Namespace {
		cert.Namespace = ptr.To(gatewayv1.Namespace(ref.Namespace))
	}
	namespaces := append([]string(nil), owned...)
	sort.Strings(namespaces)
	if len(namespaces) == 0 {
		namespaces = []string{key.Namespace} // never an empty In: it would be invalid, not "none"
	}
	allowed := &gatewayv1.AllowedRoutes{
		Namespaces: &gatewayv1.RouteNamespaces{
			From: ptr.To(gatewayv1.NamespacesFromSelector),
			Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: namespaces,
			}}},
		},
		Kinds: []gatewayv1.RouteGroupKind{
			{Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: "HTTPRoute"},
			{Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: "GRPCRoute"},
		},
	}
	listener := func(name, host string) gatewayv1.ListenerEntry {
		return gatewayv1.ListenerEntry{
			Name:          gatewayv1.SectionName(name),
			Hostname:      ptr.To(gatewayv1.Hostname(host)),
			Port:          gatewayv1.PortNumber(port),
			Protocol:      gatewayv1.HTTPSProtocolType,
			TLS:           &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModeTerminate), CertificateRefs: []gatewayv1.SecretObjectReference{cert}},
			AllowedRoutes: allowed,
		}
	}
	listeners := []gatewayv1.ListenerEntry{listener("https", "*."+t.Spec.HostDomain)}
	hosts := append([]string(nil), t.Spec.AllowedHosts...)
	sort.Strings(hosts)
	for i, h := range hosts {
		listeners = append(listeners, listener(fmt.Sprintf("granted-%d", i+1), h))
	}
	ls := &gatewayv1.ListenerSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:      key.Name,
			Namespace: key.Namespace,
			Labels: map[string]string{
				exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue,
				exposurev1alpha1.LabelTenant:    t.Name,
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: exposurev1alpha1.GroupVersion.String(), Kind: "InferenceTenant", Name: t.Name, UID: t.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: gatewayv1.ListenerSetSpec{
			ParentRef: gatewayv1.ParentGatewayReference{
				Group:     ptr.To(gatewayv1.Group(gatewayv1.GroupName)),
				Kind:      ptr.To(gatewayv1.Kind("Gateway")),
				Namespace: ptr.To(gatewayv1.Namespace(g.ParentRef.Namespace)),
				Name:      gatewayv1.ObjectName(g.ParentRef.Name),
			},
			Listeners: listeners,
		},
	}
	if iss := g.Certificate.Issuer; iss != nil {
		a := annotationClusterIssuer
		if iss.Kind == "Issuer" {
			a = annotationIssuer
		}
		ls.Annotations = map[string]string{a: iss.Name}
	}
	ls.SetGroupVersionKind(GVK)
	return ls
}

// Verdict is what the Gateway says of the ListenerSet, as a condition: its Accepted and
// Programmed conditions and each listener's, for the generation it saw. A refusal names what
// the platform must change.
func Verdict(t *exposurev1alpha1.InferenceTenant, ls *gatewayv1.ListenerSet) (status metav1.ConditionStatus, reason, message string) {
	gw := t.Spec.Gateway.ParentRef.Namespace + "/" + t.Spec.Gateway.ParentRef.Name
	key := Key(t)
	find := func(conds []metav1.Condition, typ string) *metav1.Condition {
		for i := range conds {
			if conds[i].Type == typ && conds[i].ObservedGeneration >= ls.Generation {
				return &conds[i]
			}
		}
		return nil
	}
	accepted := find(ls.Status.Conditions, string(gatewayv1.ListenerSetConditionAccepted))
	switch {
	case accepted == nil:
		return metav1.ConditionUnknown, exposurev1alpha1.ReasonPending, fmt.Sprintf("the controller of Gateway %s has not reported on ListenerSet %s yet", gw, key)
	case accepted.Status == metav1.ConditionFalse && accepted.Reason == string(gatewayv1.ListenerSetReasonNotAllowed):
		return metav1.ConditionFalse, accepted.Reason, fmt.Sprintf(
			"Gateway %s does not allow ListenerSets from namespace %s: the platform sets the Gateway's spec.allowedListeners.namespaces (from: Selector with this namespace, or All) (%s)", gw, key.Namespace, accepted.Message)
	case accepted.Status == metav1.ConditionFalse:
		return metav1.ConditionFalse, accepted.Reason, fmt.Sprintf("Gateway %s did not accept ListenerSet %s: %s", gw, key, accepted.Message)
	}
	var problems []string
	reason = ""
	for _, l := range ls.Status.Listeners {
		for _, c := range l.Conditions {
			bad := (c.Type == string(gatewayv1.ListenerEntryConditionConflicted) && c.Status == metav1.ConditionTrue) ||
				(c.Type != string(gatewayv1.ListenerEntryConditionConflicted) && c.Status == metav1.ConditionFalse)
			if !bad {
				continue
			}
			if reason == "" {
				reason = c.Reason
			}
			hint := ""
			if c.Reason == string(gatewayv1.ListenerEntryReasonRefNotPermitted) {
				hint = ": the Secret's namespace needs a ReferenceGrant from ListenerSets of namespace " + key.Namespace
			}
			problems = append(problems, fmt.Sprintf("listener %s: %s %s (%s)%s", l.Name, c.Type, c.Reason, c.Message, hint))
		}
	}
	if len(problems) > 0 {
		return metav1.ConditionFalse, reason, fmt.Sprintf("Gateway %s accepted ListenerSet %s but not all its listeners: %s", gw, key, strings.Join(problems, "; "))
	}
	programmed := find(ls.Status.Conditions, string(gatewayv1.ListenerSetConditionProgrammed))
	switch {
	case programmed == nil:
		return metav1.ConditionUnknown, exposurev1alpha1.ReasonPending, fmt.Sprintf("Gateway %s accepted ListenerSet %s and has not programmed it yet", gw, key)
	case programmed.Status != metav1.ConditionTrue:
		return metav1.ConditionFalse, programmed.Reason, fmt.Sprintf("Gateway %s has not programmed ListenerSet %s: %s", gw, key, programmed.Message)
	}
	return metav1.ConditionTrue, exposurev1alpha1.ReasonAccepted, fmt.Sprintf("Gateway %s serves the tenant's listeners (ListenerSet %s, %d listeners)", gw, key, len(ls.Spec.Listeners))
}
