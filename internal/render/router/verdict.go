package router

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	for _, ps := range parents {
		if !sameParent(ps.ParentRef, parent, defaultNamespace) {
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
	return a.Name == b.Name && ns(a) == ns(b) && section(a) == section(b)
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
