package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	routev1 "github.com/openshift/api/route/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/envoygateway"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// admitRoutes writes, as an OpenShift router would, that it admitted the Routes.
func admitRoutes(t *testing.T, ns string, names ...string) {
	t.Helper()
	for _, name := range names {
		waitExists(t, ns, name, func() *routev1.Route { return &routev1.Route{} }, nil)
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			rt := &routev1.Route{}
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, rt); err != nil {
				return err
			}
			rt.Status.Ingress = []routev1.RouteIngress{{Host: rt.Spec.Host, RouterName: "default", Conditions: []routev1.RouteIngressCondition{{
				Type: routev1.RouteAdmitted, Status: corev1.ConditionTrue}}}}
			return k8s.Status().Update(context.Background(), rt)
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// acceptOnGateway writes, as the controller of the exposure's Gateway would, that it accepted
// the exposure's objects of that name (routes and policies) at their current generation.
func acceptOnGateway(t *testing.T, ns, exposure string, objs ...client.Object) {
	t.Helper()
	parent := router.ParentRef(getExposure(t, ns, exposure))
	for _, o := range objs {
		name := o.GetName()
		waitExists(t, ns, name, func() client.Object { return o.DeepCopyObject().(client.Object) }, nil)
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			live := o.DeepCopyObject().(client.Object)
			if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, live); err != nil {
				return err
			}
			now := metav1.Now()
			conds := []metav1.Condition{
				{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: live.GetGeneration(), LastTransitionTime: now},
				{Type: "ResolvedRefs", Status: metav1.ConditionTrue, Reason: "ResolvedRefs", ObservedGeneration: live.GetGeneration(), LastTransitionTime: now},
			}
			ps := []gatewayv1.RouteParentStatus{{ParentRef: parent, ControllerName: "example.com/gateway", Conditions: conds}}
			switch l := live.(type) {
			case *gatewayv1.HTTPRoute:
				l.Status.Parents = ps
			case *gatewayv1.GRPCRoute:
				l.Status.Parents = ps
			case *gatewayv1.TLSRoute:
				l.Status.Parents = ps
			case *gatewayv1.BackendTLSPolicy:
				l.Status.Ancestors = []gatewayv1.PolicyAncestorStatus{{AncestorRef: parent, ControllerName: "example.com/gateway", Conditions: conds}}
			case *envoygateway.BackendTrafficPolicy:
				l.Status.Ancestors = []gatewayv1.PolicyAncestorStatus{{AncestorRef: parent, ControllerName: envoygateway.ControllerName, Conditions: conds}}
			default:
				return fmt.Errorf("no Gateway verdict for %T", live)
			}
			return k8s.Status().Update(context.Background(), live)
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadyWaitsForTheDataPlane: an exposure is Ready only once the controller that serves
// each routing object has reported on it. Until then Ready is False and Reconciling True with
// what it waits for; an IngressClass or Gateway that does not exist says so at once; a wait
// longer than --data-plane-report-timeout turns Stalled, naming the class; and a class the
// platform marks as writing no status is Ready without confirmation, and says so.
func TestReadyWaitsForTheDataPlane(t *testing.T) {
	ctx := context.Background()
	ns := routingSetup(t, "rt-dp", func(o *Options) { o.ReportTimeout = 3 * time.Second })
	create(t, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "reporting-" + ns},
		Spec: networkingv1.IngressClassSpec{Controller: "example.com/reporting"}})
	t.Cleanup(func() {
		_ = k8s.Delete(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "reporting-" + ns}})
	})
	ingressOn := func(class string) exposurev1alpha1.RouterSpec {
		return exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Ingress: &exposurev1alpha1.IngressSettings{ClassName: class}}
	}
	create(t,
		routedExposure(ns, "waits", ingressOn("reporting-"+ns)),
		routedExposure(ns, "noclass", ingressOn("no-such-class")),
		routedExposure(ns, "silent", ingressOn("traefik")),
		routedExposure(ns, "nogw", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway,
			Gateway: &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "no-such-gateway"}}}),
	)

	t.Run("waiting for the ingress controller is work in progress", func(t *testing.T) {
		e := waitExposureCondition(t, ns, "waits", "IngressReady", "Unknown/Pending")
		if c := condition(e.Status.Conditions, "Ready"); !strings.HasPrefix(c, "False/Pending") || !strings.Contains(c, "no ingress controller has published an address for Ingress waits") {
			t.Fatalf("Ready = %s", c)
		}
		if !strings.HasPrefix(condition(e.Status.Conditions, "Reconciling"), "True") || !strings.HasPrefix(condition(e.Status.Conditions, "Stalled"), "False") {
			t.Fatalf("kstatus while waiting: %v", e.Status.Conditions)
		}
	})
	t.Run("no report within the timeout: Stalled, naming the class", func(t *testing.T) {
		e := waitExposureCondition(t, ns, "waits", "Ready", "False/NoControllerReport")
		if c := condition(e.Status.Conditions, "Stalled"); !strings.HasPrefix(c, "True") || !strings.Contains(c, "IngressClass reporting-"+ns) {
			t.Fatalf("Stalled = %s", c)
		}
		waitEvent(t, ns, "waits", "NoControllerReport")
	})
	t.Run("the controller publishes an address: Ready", func(t *testing.T) {
		ing := waitExists(t, ns, "waits", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, nil)
		ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.7"}}
		if err := k8s.Status().Update(ctx, ing); err != nil {
			t.Fatal(err)
		}
		e := waitExposureCondition(t, ns, "waits", "Ready", "True")
		if c := condition(e.Status.Conditions, "IngressReady"); !strings.Contains(c, "served at 10.0.0.7") {
			t.Fatalf("IngressReady = %s", c)
		}
	})
	t.Run("a class that does not exist", func(t *testing.T) {
		e := waitExposureCondition(t, ns, "noclass", "Ready", "False/IngressClassNotFound")
		if !strings.Contains(condition(e.Status.Conditions, "Ready"), "IngressClass no-such-class does not exist") {
			t.Fatal(condition(e.Status.Conditions, "Ready"))
		}
	})
	t.Run("a class whose controller writes no status: Ready, not confirmed", func(t *testing.T) {
		e := waitExposureCondition(t, ns, "silent", "Ready", "True")
		if c := condition(e.Status.Conditions, "IngressReady"); !strings.HasPrefix(c, "True/NotConfirmed") || !strings.Contains(c, "IngressClass traefik") {
			t.Fatalf("IngressReady = %s", c)
		}
	})
	t.Run("a Gateway that does not exist", func(t *testing.T) {
		e := waitExposureCondition(t, ns, "nogw", "Ready", "False/GatewayNotFound")
		if c := condition(e.Status.Conditions, "HTTPRouteAccepted"); !strings.Contains(c, "Gateway gateway-system/no-such-gateway does not exist") {
			t.Fatalf("HTTPRouteAccepted = %s", c)
		}
	})
	t.Run("the Gateway appears and accepts the route: Ready", func(t *testing.T) {
		create(t, &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "gateway-system", Name: "no-such-gateway"}, Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "example", Listeners: []gatewayv1.Listener{{Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType}}}})
		t.Cleanup(func() {
			_ = k8s.Delete(ctx, &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "gateway-system", Name: "no-such-gateway"}})
		})
		acceptOnGateway(t, ns, "nogw", &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "nogw"}})
		waitExposureCondition(t, ns, "nogw", "Ready", "True")
	})
	_ = ptr.To[int32]
}
