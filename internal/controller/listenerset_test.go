package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// TestTenantListenerSet: a tenant with spec.gateway gets a ListenerSet on the shared Gateway,
// in its namespace, for its domain and grants, taking routes from its namespaces only; what
// the Gateway says of it (not allowed; served) reaches the tenant's conditions with what the
// platform must change; its exposures of type Gateway without a parentRef attach to it;
// another tenant's exposure cannot; without spec.gateway it goes.
func TestTenantListenerSet(t *testing.T) {
	ctx := context.Background()
	ns := routingSetup(t, "rt-ls")
	dev := newNamespace(t, "rt-ls-dev")
	updateTenant(t, "rt-ls", func(tn *exposurev1alpha1.InferenceTenant) {
		tn.Spec.Namespaces = append(tn.Spec.Namespaces, dev)
		tn.Spec.AllowedHosts = []string{"chat.example.org"}
		tn.Spec.Gateway = &exposurev1alpha1.TenantGateway{
			ParentRef:   exposurev1alpha1.GatewayReference{Namespace: "gateway-system", Name: "ai-gateway"},
			Certificate: exposurev1alpha1.TenantCertificate{SecretRef: &exposurev1alpha1.SecretReference{Namespace: "gateway-system", Name: "rt-ls-wildcard"}},
		}
	})
	newLS := func() *gatewayv1.ListenerSet { return &gatewayv1.ListenerSet{} }
	ls := waitExists(t, ns, "rt-ls", newLS, func(ls *gatewayv1.ListenerSet) (bool, string) {
		if len(ls.Spec.Listeners) != 2 {
			return false, fmt.Sprintf("%+v", ls.Spec.Listeners)
		}
		l := ls.Spec.Listeners[0]
		allowed := l.AllowedRoutes.Namespaces.Selector.MatchExpressions[0].Values
		return string(*l.Hostname) == "*."+hostDomain && string(*ls.Spec.Listeners[1].Hostname) == "chat.example.org" &&
			len(allowed) == 2 && string(ls.Spec.ParentRef.Name) == "ai-gateway" && string(*l.TLS.CertificateRefs[0].Namespace) == "gateway-system", fmt.Sprintf("%+v", ls.Spec)
	})
	waitTenantCondition(t, "rt-ls", "GatewayListenersReady", "Unknown/Pending")
	waitTenantCondition(t, "rt-ls", "Ready", "False")

	// An exposure of type Gateway without a parentRef attaches to the tenant's ListenerSet.
	create(t, routedExposure(dev, "llm", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway}))
	waitExists(t, dev, "llm", func() *gatewayv1.HTTPRoute { return &gatewayv1.HTTPRoute{} }, func(hr *gatewayv1.HTTPRoute) (bool, string) {
		p := hr.Spec.ParentRefs[0]
		return string(ptr.Deref(p.Kind, "")) == "ListenerSet" && string(p.Name) == "rt-ls" && string(ptr.Deref(p.Namespace, "")) == ns, fmt.Sprintf("%+v", p)
	})
	e := waitExposureCondition(t, dev, "llm", "HTTPRouteAccepted", "Unknown")
	if e.Spec.Router.Gateway != nil {
		t.Fatal("the parentRef was written into the exposure's spec")
	}

	report := func(conds ...metav1.Condition) {
		t.Helper()
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			live := newLS()
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(ls), live); err != nil {
				return err
			}
			for i := range conds {
				conds[i].ObservedGeneration, conds[i].LastTransitionTime, conds[i].Message = live.Generation, metav1.Now(), "reported by the test"
			}
			live.Status.Conditions = conds
			return k8s.Status().Update(ctx, live)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The Gateway does not allow ListenerSets from the tenant's namespace.
	report(metav1.Condition{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "NotAllowed"})
	tn := waitTenantCondition(t, "rt-ls", "GatewayListenersReady", "False/NotAllowed")
	if c := tenantCondition(tn, "GatewayListenersReady"); !strings.Contains(c, "spec.allowedListeners") || !strings.Contains(c, ns) {
		t.Fatalf("GatewayListenersReady: %s", c)
	}
	// The tenant's exposures say so too, pointing at the tenant's condition.
	e = waitExposureCondition(t, dev, "llm", "HTTPRouteAccepted", "False/NotAllowed")
	if c := condition(e.Status.Conditions, "HTTPRouteAccepted"); !strings.Contains(c, "GatewayListenersReady") {
		t.Fatalf("HTTPRouteAccepted: %s", c)
	}
	// The platform allows them: served.
	report(metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"}, metav1.Condition{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"})
	waitTenantCondition(t, "rt-ls", "GatewayListenersReady", "True")
	waitTenantCondition(t, "rt-ls", "Ready", "True")
	waitExposureCondition(t, dev, "llm", "HTTPRouteAccepted", "Unknown/Pending")

	// Another tenant's exposure naming this ListenerSet is refused by the operator (and would
	// be by the listeners' allowedRoutes).
	other := routingSetup(t, "rt-ls-other")
	create(t, routedExposure(other, "thief", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway,
		Gateway: &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Kind: "ListenerSet", Namespace: ns, Name: "rt-ls"}}}))
	e = waitExposureCondition(t, other, "thief", "Routed", "False/RouterInvalid")
	if c := condition(e.Status.Conditions, "Routed"); !strings.Contains(c, "not this tenant's") {
		t.Fatalf("Routed: %s", c)
	}
	// And one of a tenant without spec.gateway and without parentRef says what to set.
	create(t, routedExposure(other, "noparent", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway}))
	e = waitExposureCondition(t, other, "noparent", "Routed", "False/RouterInvalid")
	if c := condition(e.Status.Conditions, "Routed"); !strings.Contains(c, "spec.gateway") {
		t.Fatalf("Routed: %s", c)
	}

	// A Gateway whose class lists its features, ListenerSet not among them, will never serve it.
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "no-listenersets"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/old-gateway"}}
	create(t, class)
	class.Status.SupportedFeatures = []gatewayv1.SupportedFeature{{Name: "Gateway"}, {Name: "HTTPRoute"}}
	if err := k8s.Status().Update(ctx, class); err != nil {
		t.Fatal(err)
	}
	old := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "gateway-system", Name: "old"}, Spec: gatewayv1.GatewaySpec{
		GatewayClassName: "no-listenersets", Listeners: []gatewayv1.Listener{{Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType}}}}
	create(t, old)
	t.Cleanup(func() { _ = k8s.Delete(ctx, old); _ = k8s.Delete(ctx, class) })
	updateTenant(t, "rt-ls", func(tn *exposurev1alpha1.InferenceTenant) { tn.Spec.Gateway.ParentRef.Name = "old" })
	tn = waitTenantCondition(t, "rt-ls", "GatewayListenersReady", "False/ListenerSetNotSupported")
	if c := tenantCondition(tn, "GatewayListenersReady"); !strings.Contains(c, "example.com/old-gateway") {
		t.Fatalf("GatewayListenersReady: %s", c)
	}
	// The exposure on the tenant's ListenerSet reads its timeouts' support from the Gateway
	// behind it.
	eventually(t, "TimeoutsApplied from the ListenerSet's Gateway", func() (bool, string) {
		c := condition(getExposure(t, dev, "llm").Status.Conditions, "TimeoutsApplied")
		return strings.Contains(c, "GatewayClass no-listenersets"), c
	})

	// Without spec.gateway the ListenerSet goes.
	updateTenant(t, "rt-ls", func(tn *exposurev1alpha1.InferenceTenant) { tn.Spec.Gateway = nil })
	waitGone(t, ns, "rt-ls", newLS())
	eventually(t, "condition gone", func() (bool, string) {
		c := tenantCondition(getTenant(t, "rt-ls"), "GatewayListenersReady")
		return c == "", c
	})
}

func tenantCondition(tn *exposurev1alpha1.InferenceTenant, typ string) string {
	return condition(tn.Status.Conditions, typ)
}
