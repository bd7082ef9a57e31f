// Package envoygateway holds the part of Envoy Gateway's BackendTrafficPolicy
// (gateway.envoyproxy.io/v1alpha1) that the operator writes and reads: its targets, its HTTP
// timeouts and its status. Written here rather than imported, so that the operator does not
// depend on Envoy Gateway's module; server-side apply sends these fields only, and the fields
// others set stay. Not a CRD of the operator's: controller-gen skips the package.
//
// +kubebuilder:skip
package envoygateway

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GroupVersion is Envoy Gateway's API group and version.
var GroupVersion = schema.GroupVersion{Group: "gateway.envoyproxy.io", Version: "v1alpha1"}

// ControllerName is the controllerName of Envoy Gateway's GatewayClasses.
const ControllerName = "gateway.envoyproxy.io/gatewayclass-controller"

// BackendTrafficPolicy configures how Envoy Gateway talks to the backends of its target routes.
type BackendTrafficPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              BackendTrafficPolicySpec `json:"spec"`
	Status            gatewayv1.PolicyStatus   `json:"status,omitempty"`
}

// BackendTrafficPolicySpec is the part of the spec the operator sets.
type BackendTrafficPolicySpec struct {
	TargetRefs []gatewayv1.LocalPolicyTargetReferenceWithSectionName `json:"targetRefs,omitempty"`
	Timeout    *Timeout                                              `json:"timeout,omitempty"`
}

// Timeout holds the HTTP timeouts.
type Timeout struct {
	HTTP *HTTPTimeout `json:"http,omitempty"`
}

// HTTPTimeout: requestTimeout is the deadline of a whole response, streamIdleTimeout how long a
// stream may stay silent; "0s" disables either.
type HTTPTimeout struct {
	RequestTimeout    *gatewayv1.Duration `json:"requestTimeout,omitempty"`
	StreamIdleTimeout *gatewayv1.Duration `json:"streamIdleTimeout,omitempty"`
}

// BackendTrafficPolicyList is a list of them.
type BackendTrafficPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackendTrafficPolicy `json:"items"`
}

// AddToScheme registers the kinds.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &BackendTrafficPolicy{}, &BackendTrafficPolicyList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// DeepCopyInto copies p into out.
func (p *BackendTrafficPolicy) DeepCopyInto(out *BackendTrafficPolicy) {
	*out = *p
	out.TypeMeta = p.TypeMeta
	p.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec.TargetRefs = append([]gatewayv1.LocalPolicyTargetReferenceWithSectionName(nil), p.Spec.TargetRefs...)
	for i := range p.Spec.TargetRefs {
		if s := p.Spec.TargetRefs[i].SectionName; s != nil {
			v := *s
			out.Spec.TargetRefs[i].SectionName = &v
		}
	}
	if p.Spec.Timeout != nil {
		t := Timeout{}
		if h := p.Spec.Timeout.HTTP; h != nil {
			c := HTTPTimeout{}
			if h.RequestTimeout != nil {
				v := *h.RequestTimeout
				c.RequestTimeout = &v
			}
			if h.StreamIdleTimeout != nil {
				v := *h.StreamIdleTimeout
				c.StreamIdleTimeout = &v
			}
			t.HTTP = &c
		}
		out.Spec.Timeout = &t
	}
	p.Status.DeepCopyInto(&out.Status)
}

// DeepCopy returns a copy.
func (p *BackendTrafficPolicy) DeepCopy() *BackendTrafficPolicy {
	if p == nil {
		return nil
	}
	out := new(BackendTrafficPolicy)
	p.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (p *BackendTrafficPolicy) DeepCopyObject() runtime.Object { return p.DeepCopy() }

// DeepCopyObject implements runtime.Object.
func (l *BackendTrafficPolicyList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &BackendTrafficPolicyList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	for i := range l.Items {
		out.Items = append(out.Items, *l.Items[i].DeepCopy())
	}
	return out
}
