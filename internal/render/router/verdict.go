package router

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// Verdict is what a route's own controller says about it, as a condition.
type Verdict struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// ParentVerdict reads the Accepted and ResolvedRefs conditions that the Gateway's controller
// wrote for parent on an HTTPRoute or GRPCRoute of the given generation.
func ParentVerdict(kind string, generation int64, parents []gatewayv1.RouteParentStatus, parent gatewayv1.ParentReference, defaultNamespace string) Verdict {
	return parentVerdict(kind, generation, parents, parent, func(ref gatewayv1.ParentReference) bool { return sameParent(ref, parent, defaultNamespace) })
}

// AncestorVerdict is ParentVerdict for a policy's ancestor statuses (BackendTLSPolicy), which
// the policy's namespace holds. A Gateway may report per listener: an ancestor with a
// sectionName stands for the parent when the parent names none. And an ancestor in the
// policy's own namespace with the Gateway's name stands for it: Traefik v3.7 reports the
// route's namespace there instead of the Gateway's.
func AncestorVerdict(kind string, generation int64, ancestors []gatewayv1.RouteParentStatus, parent gatewayv1.ParentReference, policyNamespace string) Verdict {
	return parentVerdict(kind, generation, ancestors, parent, func(ref gatewayv1.ParentReference) bool {
		if ref.Name != parent.Name || (ref.Kind != nil && *ref.Kind != "Gateway") {
			return false
		}
		ns := policyNamespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		if parentNS := string(ptr.Deref(parent.Namespace, gatewayv1.Namespace(policyNamespace))); ns != parentNS && ns != policyNamespace {
			return false
		}
		return parent.SectionName == nil || (ref.SectionName != nil && *ref.SectionName == *parent.SectionName)
	})
}

func parentVerdict(kind string, generation int64, parents []gatewayv1.RouteParentStatus, parent gatewayv1.ParentReference, matches func(gatewayv1.ParentReference) bool) Verdict {
	for _, ps := range parents {
		if !matches(ps.ParentRef) {
			continue
		}
		accepted := findCondition(ps.Conditions, string(gatewayv1.RouteConditionAccepted), generation)
		resolved := findCondition(ps.Conditions, string(gatewayv1.RouteConditionResolvedRefs), generation)
		switch {
		case accepted != nil && accepted.Status == metav1.ConditionFalse:
			return Verdict{metav1.ConditionFalse, accepted.Reason, fmt.Sprintf("Gateway %s did not accept the %s: %s", parent.Name, kind, accepted.Message)}
		case resolved != nil && resolved.Status == metav1.ConditionFalse:
			return Verdict{metav1.ConditionFalse, resolved.Reason, fmt.Sprintf("Gateway %s cannot resolve the %s's backends: %s", parent.Name, kind, resolved.Message)}
		case accepted != nil && accepted.Status == metav1.ConditionTrue:
			return Verdict{metav1.ConditionTrue, exposurev1alpha1.ReasonAccepted, fmt.Sprintf("Gateway %s accepted the %s", parent.Name, kind)}
		}
	}
	return Verdict{metav1.ConditionUnknown, exposurev1alpha1.ReasonPending, fmt.Sprintf("the controller of Gateway %s has not reported on the %s yet", parent.Name, kind)}
}

func sameParent(a, b gatewayv1.ParentReference, defaultNamespace string) bool {
	ns := func(p gatewayv1.ParentReference) string {
		if p.Namespace != nil {
			return string(*p.Namespace)
		}
		return defaultNamespace
	}
	section := func(p gatewayv1.ParentReference) string {
		if p.SectionName != nil {
			return string(*p.SectionName)
		}
		return ""
	}
	kind := func(p gatewayv1.ParentReference) string {
		if p.Kind != nil {
			return string(*p.Kind)
		}
		return "Gateway"
	}
	return a.Name == b.Name && ns(a) == ns(b) && section(a) == section(b) && kind(a) == kind(b)
}

// findCondition returns the condition unless it describes an older generation.
func findCondition(conds []metav1.Condition, typ string, generation int64) *metav1.Condition {
	for i := range conds {
		c := &conds[i]
		if c.Type == typ && (c.ObservedGeneration == 0 || c.ObservedGeneration >= generation) {
			return c
		}
	}
	return nil
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
