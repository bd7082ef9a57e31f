package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/controller/exposure"
	"github.com/inference-exposure/inference-exposure-operator/internal/envoygateway"
	"github.com/inference-exposure/inference-exposure-operator/internal/inferencepool"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

const hostDomain = "apps.gpu.example.com"

// routingSetup starts an operator and a tenant with a hostDomain owning a fresh namespace.
func routingSetup(t *testing.T, prefix string, mods ...func(*Options)) string {
	t.Helper()
	ns := newNamespace(t, prefix)
	opts := Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 2, APIPollInterval: 200 * time.Millisecond}
	for _, m := range mods {
		m(&opts)
	}
	startManager(t, opts)
	tn := newTenant(prefix, nil, nil, ns)
	tn.Spec.HostDomain = hostDomain
	cleanupTenants(t, prefix)
	cleanupServices(t, ns)
	create(t, tn)
	return ns
}

// tenantWithHosts creates a tenant with hostDomain owning a fresh namespace, both named after
// name, for tests that drive the reconcilers themselves.
func tenantWithHosts(t *testing.T, name string) (string, *exposurev1alpha1.InferenceTenant) {
	t.Helper()
	ns := newNamespace(t, name)
	cleanupServices(t, ns)
	cleanupTenants(t, name)
	tn := newTenant(name, nil, nil, ns)
	tn.Spec.HostDomain = hostDomain
	create(t, tn)
	return ns, tn
}

// routedExposure is an HTTPS-only Triton (ClusterIP Service) with a router.
func routedExposure(ns, name string, r exposurev1alpha1.RouterSpec) *exposurev1alpha1.InferenceExposure {
	e := newExposure(ns, name, ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002))
	e.Spec.NodePort.Enabled = ptr.To(false)
	e.Spec.Router = &r
	return e
}

func get[T client.Object](t *testing.T, ns, name string, obj T) (T, bool) {
	t.Helper()
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return obj, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return obj, true
}

func waitGone(t *testing.T, ns, name string, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s gone", obj, name), func() (bool, string) {
		_, found := get(t, ns, name, obj)
		return !found, "still there"
	})
}

func waitExists[T client.Object](t *testing.T, ns, name string, newObj func() T, check func(T) (bool, string)) T {
	t.Helper()
	var obj T
	eventually(t, fmt.Sprintf("%T %s", newObj(), name), func() (bool, string) {
		o, found := get(t, ns, name, newObj())
		if !found {
			return false, "not found"
		}
		obj = o
		if check == nil {
			return true, ""
		}
		return check(o)
	})
	return obj
}

// TestRoutingIngress: an nginx Ingress pair, quiet steady state, drift repair, annotation
// removal, gRPC off, then switching to Route, a router's rejection, None and no router.
func TestRoutingIngress(t *testing.T) {
	ctx := context.Background()
	ns := routingSetup(t, "rt-ing")
	create(t, routedExposure(ns, "triton", exposurev1alpha1.RouterSpec{
		Type:        exposurev1alpha1.RouterIngress,
		Paths:       []exposurev1alpha1.HTTPPath{"/v2", "/health"},
		GRPC:        ptr.To(true),
		TLS:         &exposurev1alpha1.RouterTLS{SecretName: "alpha-tls-cert"},
		Ingress:     &exposurev1alpha1.IngressSettings{ClassName: "nginx"},
		Annotations: map[string]string{"team": "a"},
	}))
	e := waitExposureCondition(t, ns, "triton", "Ready", "True")
	if !strings.HasPrefix(condition(e.Status.Conditions, "Stalled"), "False") || !strings.HasPrefix(condition(e.Status.Conditions, "Reconciling"), "False") {
		t.Fatalf("kstatus when Ready: %v", e.Status.Conditions)
	}
	host := "triton." + ns + "." + hostDomain
	if e.Status.URL != "https://"+host+"/v2" || e.Status.GRPCAddress != "triton-grpc."+ns+"."+hostDomain+":443" {
		t.Fatalf("url %q grpc %q", e.Status.URL, e.Status.GRPCAddress)
	}
	if e.Status.Router == nil || e.Status.Router.Type != exposurev1alpha1.RouterIngress || e.Status.Router.Host != host {
		t.Fatalf("router status %+v", e.Status.Router)
	}
	for _, c := range []string{"Routed", "IngressReady", "GRPCIngressReady"} {
		if !strings.HasPrefix(condition(e.Status.Conditions, c), "True") {
			t.Errorf("%s = %s", c, condition(e.Status.Conditions, c))
		}
	}
	ing, _ := get(t, ns, "triton", &networkingv1.Ingress{})
	if ptr.Deref(ing.Spec.IngressClassName, "") != "nginx" || len(ing.Spec.Rules[0].HTTP.Paths) != 2 ||
		ing.Spec.TLS[0].SecretName != "alpha-tls-cert" || ing.Annotations[router.NginxReadTimeout] != "300" ||
		ing.Annotations[router.NginxSSLRedirect] != "true" || ing.Annotations["team"] != "a" {
		t.Fatalf("ingress = %+v", ing)
	}
	grpcIng, _ := get(t, ns, "triton-grpc", &networkingv1.Ingress{})
	if grpcIng.Annotations[router.NginxBackendProtocol] != "GRPC" || grpcIng.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number != 8001 {
		t.Fatalf("grpc ingress = %+v", grpcIng)
	}
	var rt *routev1.Route
	// step runs one step of the scenario; the steps build on each other, so a failed one ends it.
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	step("Steady state", func(t *testing.T) {
		// Steady state: a reconcile that changes nothing the Ingress depends on does not write it.
		// (Dropping the metrics port changes the Service only; the status, written after the
		// routing objects in the same reconcile, shows when that reconcile is done.)
		rv := ing.ResourceVersion
		updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) { e.Spec.Ports.Metrics = nil })
		gen := getExposure(t, ns, "triton").Generation
		eventually(t, "the spec change reconciled", func() (bool, string) {
			e := getExposure(t, ns, "triton")
			return e.Status.ObservedGeneration == gen && len(getService(t, ns, "triton").Spec.Ports) == 2, fmt.Sprint(e.Status.ObservedGeneration)
		})
		if ing, _ = get(t, ns, "triton", &networkingv1.Ingress{}); ing.ResourceVersion != rv {
			t.Fatalf("steady state wrote the Ingress (%s -> %s)", rv, ing.ResourceVersion)
		}
	})

	step("Someone edits the Ingress", func(t *testing.T) {
		// Someone edits the Ingress: the operator's fields come back, the other annotation stays.
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 9999
		ing.Annotations["someone"] = "else"
		if err := k8s.Update(ctx, ing); err != nil {
			t.Fatal(err)
		}
		waitExists(t, ns, "triton", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, func(i *networkingv1.Ingress) (bool, string) {
			return i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number == 8000 && i.Annotations["someone"] == "else", fmt.Sprint(i.Spec.Rules[0].HTTP.Paths[0].Backend)
		})
		// Deleted: recreated.
		if err := k8s.Delete(ctx, grpcIng); err != nil {
			t.Fatal(err)
		}
		waitExists(t, ns, "triton-grpc", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, func(i *networkingv1.Ingress) (bool, string) {
			return i.UID != grpcIng.UID, "old one"
		})
	})

	step("An annotation leaves the spec and gRPC is turned off", func(t *testing.T) {
		// An annotation leaves the spec and gRPC is turned off.
		updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) {
			e.Spec.Router.Annotations = nil
			e.Spec.Router.GRPC = nil
		})
		waitGone(t, ns, "triton-grpc", &networkingv1.Ingress{})
		waitExists(t, ns, "triton", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, func(i *networkingv1.Ingress) (bool, string) {
			_, has := i.Annotations["team"]
			return !has && i.Annotations["someone"] == "else", fmt.Sprint(i.Annotations)
		})
		e = waitExposureCondition(t, ns, "triton", "Ready", "True")
		if e.Status.GRPCAddress != "" || condition(e.Status.Conditions, "GRPCIngressReady") != "" {
			t.Fatalf("gRPC leftovers: %q %s", e.Status.GRPCAddress, condition(e.Status.Conditions, "GRPCIngressReady"))
		}
	})

	step("Switch to Route", func(t *testing.T) {
		// Switch to Route: the Ingress goes, one Route per path comes.
		updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) {
			e.Spec.Router.Type = exposurev1alpha1.RouterRoute
			e.Spec.Router.Ingress = nil
		})
		waitGone(t, ns, "triton", &networkingv1.Ingress{})
		rt = waitExists(t, ns, "triton", func() *routev1.Route { return &routev1.Route{} }, nil)
		waitExists(t, ns, "triton-path1", func() *routev1.Route { return &routev1.Route{} }, nil)
		if rt.Spec.Path != "/v2" || rt.Spec.TLS.Termination != routev1.TLSTerminationEdge || rt.Spec.TLS.InsecureEdgeTerminationPolicy != routev1.InsecureEdgeTerminationPolicyRedirect ||
			rt.Spec.TLS.ExternalCertificate == nil || rt.Spec.TLS.ExternalCertificate.Name != "alpha-tls-cert" || rt.Spec.TLS.Key != "" ||
			rt.Annotations[router.RouteTimeout] != "300s" || rt.Annotations[router.RouteBalance] != "leastconn" {
			t.Fatalf("route = %+v %v", rt.Spec, rt.Annotations)
		}
		e = waitExposureCondition(t, ns, "triton", "RouteAdmitted", "Unknown")
		if c := condition(e.Status.Conditions, "Ready"); !strings.HasPrefix(c, "False/Pending") || !strings.HasPrefix(condition(e.Status.Conditions, "Reconciling"), "True") {
			t.Fatalf("a Route no router has looked at yet holds Ready back, as work in progress: Ready %s, %v", c, e.Status.Conditions)
		}
	})

	step("The OpenShift router rejects it", func(t *testing.T) {
		// The OpenShift router rejects it: Ready turns False with the router's reason.
		rt.Status.Ingress = []routev1.RouteIngress{{Host: rt.Spec.Host, RouterName: "default", Conditions: []routev1.RouteIngressCondition{{
			Type: routev1.RouteAdmitted, Status: corev1.ConditionFalse, Reason: "HostAlreadyClaimed", Message: "route y already exposes the host",
		}}}}
		if err := k8s.Status().Update(ctx, rt); err != nil {
			t.Fatal(err)
		}
		e = waitExposureCondition(t, ns, "triton", "Ready", "False/HostAlreadyClaimed")
		if !strings.HasPrefix(condition(e.Status.Conditions, "RouteAdmitted"), "False/HostAlreadyClaimed") {
			t.Fatal(condition(e.Status.Conditions, "RouteAdmitted"))
		}
	})

	step("None removes everything the operator made", func(t *testing.T) {
		// None removes everything the operator made; no router at all drops the conditions too.
		updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) { e.Spec.Router.Type = exposurev1alpha1.RouterNone })
		waitGone(t, ns, "triton", &routev1.Route{})
		waitGone(t, ns, "triton-path1", &routev1.Route{})
		e = waitExposureCondition(t, ns, "triton", "Routed", "True/RouterNone")
		if e.Status.URL != "" || condition(e.Status.Conditions, "RouteAdmitted") != "" {
			t.Fatalf("leftovers: %q %s", e.Status.URL, condition(e.Status.Conditions, "RouteAdmitted"))
		}
		updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) { e.Spec.Router = nil })
		eventually(t, "Routed removed", func() (bool, string) {
			e = getExposure(t, ns, "triton")
			return condition(e.Status.Conditions, "Routed") == "" && e.Status.ObservedGeneration == e.Generation, condition(e.Status.Conditions, "Routed")
		})
	})
}

// TestRoutingRouteModes: Passthrough and Reencrypt Routes, and inline certificates.
func TestRoutingRouteModes(t *testing.T) {
	ctx := context.Background()
	ns := routingSetup(t, "rt-route", func(o *Options) { o.InlineCertificates = true })
	create(t,
		routedExposure(ns, "pass", exposurev1alpha1.RouterSpec{
			Type: exposurev1alpha1.RouterRoute, GRPC: ptr.To(true), Timeout: "0",
			TLS: &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSPassthrough},
		}),
		routedExposure(ns, "reenc", exposurev1alpha1.RouterSpec{
			Type: exposurev1alpha1.RouterRoute, GRPC: ptr.To(true),
			TLS: &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSReencrypt, SecretName: "reenc-tls",
				DestinationCACertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
			Backends: []exposurev1alpha1.Backend{{Name: "reenc", Weight: 90}, {Name: "reenc-canary", Weight: 10}},
		}),
		routedExposure(ns, "inline", exposurev1alpha1.RouterSpec{
			Type: exposurev1alpha1.RouterRoute,
			TLS:  &exposurev1alpha1.RouterTLS{SecretName: "inline-tls", Inline: ptr.To(true)},
		}),
	)
	admitRoutes(t, ns, "pass", "pass-grpc")
	waitExposureCondition(t, ns, "pass", "Ready", "True")
	p := waitExists(t, ns, "pass", func() *routev1.Route { return &routev1.Route{} }, nil)
	pg := waitExists(t, ns, "pass-grpc", func() *routev1.Route { return &routev1.Route{} }, nil)
	if p.Spec.Path != "" || p.Spec.TLS.Termination != routev1.TLSTerminationPassthrough || pg.Spec.TLS.Termination != routev1.TLSTerminationPassthrough ||
		pg.Spec.Port.TargetPort.StrVal != "grpc" || pg.Annotations[router.RouteTunnelTimeout] != "86400s" {
		t.Fatalf("passthrough routes: %+v / %+v %v", p.Spec, pg.Spec, pg.Annotations)
	}

	e := waitExposureCondition(t, ns, "reenc", "Routed", "True")
	r := waitExists(t, ns, "reenc", func() *routev1.Route { return &routev1.Route{} }, nil)
	rg := waitExists(t, ns, "reenc-grpc", func() *routev1.Route { return &routev1.Route{} }, nil)
	if r.Spec.TLS.Termination != routev1.TLSTerminationReencrypt || !strings.Contains(r.Spec.TLS.DestinationCACertificate, "BEGIN CERTIFICATE") ||
		rg.Spec.TLS.Termination != routev1.TLSTerminationReencrypt || ptr.Deref(r.Spec.To.Weight, 0) != 90 ||
		len(r.Spec.AlternateBackends) != 1 || r.Spec.AlternateBackends[0].Name != "reenc-canary" {
		t.Fatalf("reencrypt routes: %+v / %+v", r.Spec, rg.Spec)
	}
	if strings.Contains(condition(e.Status.Conditions, "Routed"), "Passthrough") {
		t.Fatalf("reencrypt gRPC is not passthrough: %s", condition(e.Status.Conditions, "Routed"))
	}

	// inline: no Secret yet, so a condition says which; with the Secret, its PEM is copied in.
	waitExposureCondition(t, ns, "inline", "Routed", "False/SecretInvalid")
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "inline-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": []byte("CERT"), "tls.key": []byte("KEY")}})
	updateExposure(t, ns, "inline", func(e *exposurev1alpha1.InferenceExposure) { e.Spec.Router.Timeout = "301s" }) // Secrets are not watched
	waitExposureCondition(t, ns, "inline", "Routed", "True")
	in, _ := get(t, ns, "inline", &routev1.Route{})
	if in.Spec.TLS.Certificate != "CERT" || in.Spec.TLS.Key != "KEY" || in.Spec.TLS.ExternalCertificate != nil {
		t.Fatalf("inline route tls = %+v", in.Spec.TLS)
	}
	_ = ctx
}

// TestRoutingGateway: HTTPRoute and GRPCRoute accepted by the Gateway API CRDs' own
// validation, and the Gateway controller's verdict in the exposure's conditions.
func TestRoutingGateway(t *testing.T) {
	ctx := context.Background()
	ns := routingSetup(t, "rt-gw")
	create(t, routedExposure(ns, "triton", exposurev1alpha1.RouterSpec{
		Type: exposurev1alpha1.RouterGateway, GRPC: ptr.To(true), Timeout: "0", Paths: []exposurev1alpha1.HTTPPath{"/v2"},
		Gateway: &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "ai-gateway"}},
	}))
	// Until the Gateway's controller reports, Ready waits for it.
	e := waitExposureCondition(t, ns, "triton", "Ready", "False/Pending")
	if !strings.HasPrefix(condition(e.Status.Conditions, "HTTPRouteAccepted"), "Unknown") || !strings.HasPrefix(condition(e.Status.Conditions, "GRPCRouteAccepted"), "Unknown") ||
		!strings.HasPrefix(condition(e.Status.Conditions, "Reconciling"), "True") {
		t.Fatalf("conditions: %v", e.Status.Conditions)
	}
	acceptOnGateway(t, ns, "triton", &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Name: "triton"}})
	hr, _ := get(t, ns, "triton", &gatewayv1.HTTPRoute{})
	gr, _ := get(t, ns, "triton", &gatewayv1.GRPCRoute{})
	if string(hr.Spec.Hostnames[0]) != "triton."+ns+"."+hostDomain || string(gr.Spec.Hostnames[0]) != "triton-grpc."+ns+"."+hostDomain ||
		*hr.Spec.Rules[0].Timeouts.Request != "0s" || *gr.Spec.Rules[0].BackendRefs[0].Port != 8001 {
		t.Fatalf("routes: %+v / %+v", hr.Spec, gr.Spec)
	}

	parent := gatewayv1.ParentReference{Group: ptr.To(gatewayv1.Group(gatewayv1.GroupName)), Kind: ptr.To(gatewayv1.Kind("Gateway")),
		Namespace: ptr.To(gatewayv1.Namespace("gateway-system")), Name: "ai-gateway"}
	setParent := func(accepted, resolved metav1.ConditionStatus, reason string) {
		t.Helper()
		hr, _ := get(t, ns, "triton", &gatewayv1.HTTPRoute{})
		now := metav1.Now()
		hr.Status.Parents = []gatewayv1.RouteParentStatus{{ParentRef: parent, ControllerName: "example.com/gateway", Conditions: []metav1.Condition{
			{Type: "Accepted", Status: accepted, Reason: reason, Message: "listener says " + reason, ObservedGeneration: hr.Generation, LastTransitionTime: now},
			{Type: "ResolvedRefs", Status: resolved, Reason: "ResolvedRefs", Message: "ok", ObservedGeneration: hr.Generation, LastTransitionTime: now},
		}}}
		if err := k8s.Status().Update(ctx, hr); err != nil {
			t.Fatal(err)
		}
	}
	setParent(metav1.ConditionFalse, metav1.ConditionTrue, "NotAllowedByListeners")
	e = waitExposureCondition(t, ns, "triton", "Ready", "False/NotAllowedByListeners")
	if !strings.HasPrefix(condition(e.Status.Conditions, "HTTPRouteAccepted"), "False/NotAllowedByListeners") {
		t.Fatal(condition(e.Status.Conditions, "HTTPRouteAccepted"))
	}
	setParent(metav1.ConditionTrue, metav1.ConditionTrue, "Accepted")
	waitExposureCondition(t, ns, "triton", "HTTPRouteAccepted", "True")
	waitExposureCondition(t, ns, "triton", "Ready", "True")

	// Switching to Ingress removes both Gateway API routes.
	updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) {
		e.Spec.Router.Type = exposurev1alpha1.RouterIngress
		e.Spec.Router.Gateway = nil
	})
	waitGone(t, ns, "triton", &gatewayv1.HTTPRoute{})
	waitGone(t, ns, "triton", &gatewayv1.GRPCRoute{})
	waitExists(t, ns, "triton-grpc", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, nil)
}

// TestRoutingConflicts: the older exposure keeps a host and path across namespaces, a
// routing object of the same name that the operator does not own is left alone, and bad
// hosts are reported before anything is created.
func TestRoutingConflicts(t *testing.T) {
	ns := routingSetup(t, "rt-conf")
	ns2 := newNamespace(t, "rt-conf-b")
	updateTenant := func() {
		updateTenant(t, "rt-conf", func(tn *exposurev1alpha1.InferenceTenant) {
			tn.Spec.Namespaces = append(tn.Spec.Namespaces, ns2)
		})
	}
	updateTenant()
	cleanupServices(t, ns2)
	shared := exposurev1alpha1.Hostname("shared." + hostDomain)
	spec := exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: shared}
	create(t, routedExposure(ns, "first", spec))
	waitExposureCondition(t, ns, "first", "Routed", "True")
	create(t, routedExposure(ns2, "second", spec))
	e := waitExposureCondition(t, ns2, "second", "Routed", "False/HostConflict")
	if msg := condition(e.Status.Conditions, "Routed"); !strings.Contains(msg, "another namespace") || strings.Contains(msg, ns+"/first") {
		t.Fatal(msg) // the holder may be another tenant's: it is not named
	}
	// kstatus: a conflict needs a person, so Stalled, not Reconciling.
	if !strings.HasPrefix(condition(e.Status.Conditions, "Stalled"), "True/HostConflict") || !strings.HasPrefix(condition(e.Status.Conditions, "Reconciling"), "False") {
		t.Fatalf("kstatus: %s / %s", condition(e.Status.Conditions, "Stalled"), condition(e.Status.Conditions, "Reconciling"))
	}
	if _, found := get(t, ns2, "second", &networkingv1.Ingress{}); found {
		t.Fatal("the loser got an Ingress")
	}
	waitEvent(t, ns2, "second", "HostConflict")
	// The holder moves to another path: the host is still its namespace's, so another
	// namespace may not route "/" (nor any path) beside it.
	updateExposure(t, ns, "first", func(e *exposurev1alpha1.InferenceExposure) { e.Spec.Router.Paths = []exposurev1alpha1.HTTPPath{"/v1"} })
	eventually(t, "first routing /v1", func() (bool, string) {
		ing, found := get(t, ns, "first", &networkingv1.Ingress{})
		return found && len(ing.Spec.Rules) == 1 && ing.Spec.Rules[0].HTTP.Paths[0].Path == "/v1", fmt.Sprint(found)
	})
	updateExposure(t, ns2, "second", func(e *exposurev1alpha1.InferenceExposure) {
		e.Spec.Router.Paths = []exposurev1alpha1.HTTPPath{"/v2"}
	})
	eventually(t, "second refused for another namespace's host", func() (bool, string) {
		msg := condition(getExposure(t, ns2, "second").Status.Conditions, "Routed")
		// The other namespace may be another tenant's: its name and objects are not given.
		return strings.HasPrefix(msg, "False/HostConflict") && strings.Contains(msg, "already routed from another namespace") && !strings.Contains(msg, ns+"/") && !strings.Contains(msg, " "+ns+" "), msg
	})
	if _, found := get(t, ns2, "second", &networkingv1.Ingress{}); found {
		t.Fatal("another namespace got an Ingress on the host")
	}
	// The holder moves to another host: the second one gets the shared host.
	updateExposure(t, ns, "first", func(e *exposurev1alpha1.InferenceExposure) {
		e.Spec.Router.Host = exposurev1alpha1.Hostname("moved." + hostDomain)
	})
	waitExposureCondition(t, ns2, "second", "Routed", "True")

	// An Ingress the operator does not own, named like the exposure.
	foreign := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken", Labels: map[string]string{exposurev1alpha1.LabelExposure: "taken"}},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "x", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}
	create(t, foreign)
	create(t, routedExposure(ns, "taken", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress}))
	e = waitExposureCondition(t, ns, "taken", "Ready", "False/RouterConflict")
	if !strings.HasPrefix(condition(e.Status.Conditions, "IngressReady"), "False/RouterConflict") {
		t.Fatal(condition(e.Status.Conditions, "IngressReady"))
	}
	// Switching away must not delete the foreign Ingress either.
	updateExposure(t, ns, "taken", func(e *exposurev1alpha1.InferenceExposure) { e.Spec.Router.Type = exposurev1alpha1.RouterNone })
	waitExposureCondition(t, ns, "taken", "Routed", "True/RouterNone")
	if got, found := get(t, ns, "taken", &networkingv1.Ingress{}); !found || got.UID != foreign.UID || got.Spec.DefaultBackend.Service.Name != "x" {
		t.Fatal("the foreign Ingress was touched")
	}

	// Hosts are checked before anything is created.
	long := "a" + strings.Repeat("b", 58) // a 59-character name: +"-grpc" makes a 64-character label
	create(t, routedExposure(ns, long, exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, GRPC: ptr.To(true)}))
	e = waitExposureCondition(t, ns, long, "Routed", "False/HostInvalid")
	if !strings.Contains(condition(e.Status.Conditions, "Routed"), "64 characters") {
		t.Fatal(condition(e.Status.Conditions, "Routed"))
	}
	create(t, routedExposure(ns, "outside", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: "x.example.org"}))
	waitExposureCondition(t, ns, "outside", "Routed", "False/HostInvalid")
	if _, found := get(t, ns, "outside", &networkingv1.Ingress{}); found {
		t.Fatal("an Ingress for a refused host")
	}
}

// TestRoutingAutoDetection removes and reinstalls the OpenShift Route and Gateway API CRDs
// under a running operator: Auto follows what is served, an explicit type that is not served
// gets a condition, and nothing crashes.
func TestRoutingAutoDetection(t *testing.T) {
	ctx := context.Background()
	paths, err := testenv.CRDPaths()
	if err != nil {
		t.Fatal(err)
	}
	reinstall := func() {
		if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: paths[1:], ErrorIfPathMissing: true}); err != nil {
			t.Fatal(err)
		}
	}
	removeCRDs := func(names ...string) {
		for _, n := range names {
			if err := k8s.Delete(ctx, &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: n}}); client.IgnoreNotFound(err) != nil {
				t.Fatal(err)
			}
		}
		for _, n := range names {
			eventually(t, "CRD "+n+" gone", func() (bool, string) {
				err := k8s.Get(ctx, client.ObjectKey{Name: n}, &apiextensionsv1.CustomResourceDefinition{})
				return apierrors.IsNotFound(err), fmt.Sprint(err)
			})
		}
	}
	t.Cleanup(reinstall)
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	removeCRDs("routes.route.openshift.io")

	ns := routingSetup(t, "rt-auto")
	gw := &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
	create(t,
		routedExposure(ns, "plain", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterAuto}),
		routedExposure(ns, "gw", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterAuto, Gateway: gw}),
		routedExposure(ns, "want-route", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterRoute}),
	)
	waitExposureCondition(t, ns, "plain", "Routed", "True/Routed")
	if e := getExposure(t, ns, "plain"); e.Status.Router.Type != exposurev1alpha1.RouterIngress {
		t.Fatalf("Auto without Route API or parentRef = %s", e.Status.Router.Type)
	}
	waitExists(t, ns, "gw", func() *gatewayv1.HTTPRoute { return &gatewayv1.HTTPRoute{} }, nil)
	e := waitExposureCondition(t, ns, "want-route", "Routed", "False/APINotServed")
	if !strings.Contains(condition(e.Status.Conditions, "Routed"), "route.openshift.io/v1") {
		t.Fatal(condition(e.Status.Conditions, "Routed"))
	}

	// Without the Gateway API, Auto with a parentRef falls back to Ingress.
	removeCRDs("httproutes.gateway.networking.k8s.io", "grpcroutes.gateway.networking.k8s.io")
	waitExists(t, ns, "gw", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, nil)
	eventually(t, "gw on Ingress", func() (bool, string) {
		e := getExposure(t, ns, "gw")
		return e.Status.Router != nil && e.Status.Router.Type == exposurev1alpha1.RouterIngress, fmt.Sprint(e.Status.Router)
	})

	// The CRDs come back (OpenShift): Auto makes Routes, and keeps the Ingresses serving until
	// a router has admitted the Routes; then the Ingresses go.
	reinstall()
	for _, name := range []string{"plain", "gw"} {
		rt := waitExists(t, ns, name, func() *routev1.Route { return &routev1.Route{} }, nil)
		eventually(t, name+": the Ingress said to keep serving", func() (bool, string) {
			e := getExposure(t, ns, name)
			c := condition(e.Status.Conditions, "Routed")
			return e.Status.Router != nil && e.Status.Router.Type == exposurev1alpha1.RouterIngress && strings.HasPrefix(c, "True") && strings.Contains(c, "keeps serving"),
				fmt.Sprintf("%+v %s", e.Status.Router, c)
		})
		if _, found := get(t, ns, name, &networkingv1.Ingress{}); !found {
			t.Fatalf("%s: the Ingress went before a router admitted the Route", name)
		}
		rt.Status.Ingress = []routev1.RouteIngress{{Host: rt.Spec.Host, RouterName: "default", Conditions: []routev1.RouteIngressCondition{{
			Type: routev1.RouteAdmitted, Status: corev1.ConditionTrue,
		}}}}
		if err := k8s.Status().Update(ctx, rt); err != nil {
			t.Fatal(err)
		}
		waitGone(t, ns, name, &networkingv1.Ingress{})
		eventually(t, name+" served by its Route", func() (bool, string) {
			e := getExposure(t, ns, name)
			return e.Status.Router != nil && e.Status.Router.Type == exposurev1alpha1.RouterRoute, fmt.Sprint(e.Status.Router)
		})
	}
	waitExposureCondition(t, ns, "want-route", "Routed", "True")
	waitExists(t, ns, "want-route", func() *routev1.Route { return &routev1.Route{} }, nil)
}

// TestHostPolicy: a tenant without hostDomain cannot take an explicit host (here, one under
// another tenant's domain) unless the platform allows any host on it; the rightful owner keeps
// its host.
func TestHostPolicy(t *testing.T) {
	victimNS := routingSetup(t, "rt-victim")
	create(t, routedExposure(victimNS, "api", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress}))
	victim := waitExposureCondition(t, victimNS, "api", "Routed", "True")
	// Creation times have whole seconds, and a tie goes by namespace/name: let the thief be
	// created in a later second, as it would be in a real cluster.
	eventually(t, "the next second", func() (bool, string) {
		return time.Now().After(victim.CreationTimestamp.Add(time.Second)), ""
	})

	ns := newNamespace(t, "rt-nodomain")
	cleanupTenants(t, "rt-nodomain")
	cleanupServices(t, ns)
	create(t, newTenant("rt-nodomain", nil, nil, ns))
	create(t, routedExposure(ns, "thief", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: exposurev1alpha1.Hostname("elsewhere.example.org")}))
	e := waitExposureCondition(t, ns, "thief", "Routed", "False/HostInvalid")
	if msg := condition(e.Status.Conditions, "Routed"); !strings.Contains(msg, "allowAnyHost") {
		t.Fatalf("message does not say what to do: %s", msg)
	}
	if _, found := get(t, ns, "thief", &networkingv1.Ingress{}); found {
		t.Fatal("an Ingress for a host the tenant may not route")
	}
	waitEvent(t, ns, "thief", "HostInvalid")

	// The platform allows any host on this tenant: the explicit host is routed.
	updateTenant(t, "rt-nodomain", func(tn *exposurev1alpha1.InferenceTenant) {
		tn.Spec.AllowAnyHost = true
	})
	waitExposureCondition(t, ns, "thief", "Routed", "True")
	// Even then it may not take another namespace's host: the older exposure keeps it.
	updateExposure(t, ns, "thief", func(e *exposurev1alpha1.InferenceExposure) {
		e.Spec.Router.Host = exposurev1alpha1.Hostname("api." + victimNS + "." + hostDomain)
		e.Spec.Router.Paths = []exposurev1alpha1.HTTPPath{"/admin"}
	})
	waitExposureCondition(t, ns, "thief", "Routed", "False/HostConflict")
	waitExposureCondition(t, victimNS, "api", "Routed", "True")

	// Inline Route certificates need Secret reads, which this operator is not given.
	create(t, routedExposure(victimNS, "inline", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterRoute,
		TLS: &exposurev1alpha1.RouterTLS{SecretName: "inline-tls", Inline: ptr.To(true)}}))
	waitExposureCondition(t, victimNS, "inline", "Routed", "False/InlineCertificatesDisabled")
}

// TestAnnotationPolicy: escalation keys in router.annotations, and values carrying nginx's
// syntax, are refused (condition and Event) and the rest applied, the exposure stays Ready; the platform team widens the set per tenant.
func TestAnnotationPolicy(t *testing.T) {
	ns := routingSetup(t, "rt-ann")
	ann := map[string]string{
		"nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers \"X: y\";",
		"nginx.ingress.kubernetes.io/server-snippet":        "location /admin { return 200; }",
		"nginx.ingress.kubernetes.io/auth-url":              "http://auth.other.svc/check",
		"nginx.ingress.kubernetes.io/mirror-target":         "http://collector.other.svc",
		"nginx.ingress.kubernetes.io/auth-tls-secret":       "kube-system/admin-ca",
		"nginx.ingress.kubernetes.io/ssl-redirect":          "false",
		"nginx.ingress.kubernetes.io/cors-allow-origin":     "x' always; add_header Set-Cookie 'a",
		"example.com/team":                                  "vision",
	}
	create(t, routedExposure(ns, "triton", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Ingress: &exposurev1alpha1.IngressSettings{ClassName: "nginx"},
		TLS: &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSEdge, SecretName: "cert"}, Annotations: ann}))
	e := waitExposureCondition(t, ns, "triton", "AnnotationsApplied", "False/AnnotationsRefused")
	msg := condition(e.Status.Conditions, "AnnotationsApplied")
	for k := range ann {
		if k != "example.com/team" && !strings.Contains(msg, k) {
			t.Errorf("refused key %s not named: %s", k, msg)
		}
	}
	if !strings.Contains(msg, "reads as configuration syntax") {
		t.Errorf("a value's refusal does not say why: %s", msg)
	}
	waitExposureCondition(t, ns, "triton", "Ready", "True")
	ing, found := get(t, ns, "triton", &networkingv1.Ingress{})
	if !found {
		t.Fatal("no Ingress")
	}
	got := ing.GetAnnotations()
	if got["example.com/team"] != "vision" || got["nginx.ingress.kubernetes.io/ssl-redirect"] != "true" {
		t.Fatalf("annotations: %v", got)
	}
	for k := range ann {
		if k != "example.com/team" && k != "nginx.ingress.kubernetes.io/ssl-redirect" && got[k] != "" {
			t.Fatalf("refused %s reached the Ingress", k)
		}
	}
	waitEvent(t, ns, "triton", "AnnotationsRefused")

	// The platform team allows external auth for this tenant.
	updateTenant(t, "rt-ann", func(tn *exposurev1alpha1.InferenceTenant) {
		tn.Spec.AnnotationPolicy = &exposurev1alpha1.AnnotationPolicy{Allow: []string{"nginx.ingress.kubernetes.io/auth-url"}}
	})
	eventually(t, "auth-url applied", func() (bool, string) {
		ing, _ := get(t, ns, "triton", &networkingv1.Ingress{})
		return ing.GetAnnotations()["nginx.ingress.kubernetes.io/auth-url"] == ann["nginx.ingress.kubernetes.io/auth-url"], fmt.Sprint(ing.GetAnnotations())
	})
	// Only the denied keys left: the snippets, mirror, auth-tls-secret and the override.
	updateExposure(t, ns, "triton", func(e *exposurev1alpha1.InferenceExposure) {
		e.Spec.Router.Annotations = map[string]string{"example.com/team": "vision"}
	})
	waitExposureCondition(t, ns, "triton", "AnnotationsApplied", "True")
}

// TestRoutingGatewayTLS: Passthrough with a Gateway becomes TLSRoutes, Reencrypt the routes
// plus a BackendTLSPolicy; the Gateway API CRDs' own validation accepts them, the parent's
// verdicts become conditions, and a cluster without the TLSRoute API says so instead of
// failing.
func TestRoutingGatewayTLS(t *testing.T) {
	ctx := context.Background()
	ns := routingSetup(t, "rt-gwtls")
	gw := &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "ai-gateway"}}
	create(t,
		routedExposure(ns, "pass", exposurev1alpha1.RouterSpec{
			Type: exposurev1alpha1.RouterGateway, GRPC: ptr.To(true), Gateway: gw,
			TLS: &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSPassthrough},
		}),
		routedExposure(ns, "reenc", exposurev1alpha1.RouterSpec{
			Type: exposurev1alpha1.RouterGateway, GRPC: ptr.To(true), Gateway: gw,
			TLS: &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSReencrypt,
				Backend: &exposurev1alpha1.BackendTLS{Hostname: "reenc.inference.svc", CAConfigMap: "reenc-ca"}},
		}),
	)
	e := waitExposureCondition(t, ns, "pass", "TLSRouteAccepted", "Unknown/Pending")
	if c := condition(e.Status.Conditions, "Ready"); !strings.HasPrefix(c, "False/Pending") {
		t.Fatalf("Ready before the Gateway reported = %s", c)
	}
	acceptOnGateway(t, ns, "pass", &gatewayv1.TLSRoute{ObjectMeta: metav1.ObjectMeta{Name: "pass"}}, &gatewayv1.TLSRoute{ObjectMeta: metav1.ObjectMeta{Name: "pass-grpc"}})
	waitExposureCondition(t, ns, "pass", "Ready", "True")
	tr, _ := get(t, ns, "pass", &gatewayv1.TLSRoute{})
	trg, _ := get(t, ns, "pass-grpc", &gatewayv1.TLSRoute{})
	if string(tr.Spec.Hostnames[0]) != "pass."+ns+"."+hostDomain || *tr.Spec.Rules[0].BackendRefs[0].Port != 8000 ||
		string(trg.Spec.Hostnames[0]) != "pass-grpc."+ns+"."+hostDomain || *trg.Spec.Rules[0].BackendRefs[0].Port != 8001 {
		t.Fatalf("TLSRoutes: %+v / %+v", tr.Spec, trg.Spec)
	}
	if _, found := get(t, ns, "pass", &gatewayv1.HTTPRoute{}); found {
		t.Fatal("a Passthrough exposure got an HTTPRoute")
	}

	acceptOnGateway(t, ns, "reenc", &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "reenc"}}, &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Name: "reenc"}},
		&gatewayv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Name: "reenc"}})
	waitExposureCondition(t, ns, "reenc", "Ready", "True")
	p, _ := get(t, ns, "reenc", &gatewayv1.BackendTLSPolicy{})
	if p.Spec.TargetRefs[0].Name != "reenc" || string(p.Spec.Validation.Hostname) != "reenc.inference.svc" ||
		p.Spec.Validation.CACertificateRefs[0].Name != "reenc-ca" {
		t.Fatalf("BackendTLSPolicy: %+v", p.Spec)
	}
	waitExists(t, ns, "reenc", func() *gatewayv1.HTTPRoute { return &gatewayv1.HTTPRoute{} }, nil)
	waitExists(t, ns, "reenc", func() *gatewayv1.GRPCRoute { return &gatewayv1.GRPCRoute{} }, nil)

	// The Gateway's controller refuses the CA reference: the exposure says so.
	p.Status.Ancestors = []gatewayv1.PolicyAncestorStatus{{
		AncestorRef:    router.ParentRef(getExposure(t, ns, "reenc")),
		ControllerName: "example.com/gateway",
		Conditions: []metav1.Condition{
			{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: metav1.Now(), ObservedGeneration: p.Generation},
			{Type: "ResolvedRefs", Status: metav1.ConditionFalse, Reason: "InvalidCACertificateRef", Message: "ConfigMap reenc-ca not found", LastTransitionTime: metav1.Now(), ObservedGeneration: p.Generation},
		},
	}}
	if err := k8s.Status().Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	e = waitExposureCondition(t, ns, "reenc", "BackendTLSPolicyAccepted", "False/InvalidCACertificateRef")
	if c := condition(e.Status.Conditions, "Ready"); !strings.HasPrefix(c, "False/InvalidCACertificateRef") {
		t.Fatalf("Ready = %s", c)
	}

	// Back to Edge: the policy goes, the routes stay.
	updateExposure(t, ns, "reenc", func(e *exposurev1alpha1.InferenceExposure) { e.Spec.Router.TLS = nil })
	waitGone(t, ns, "reenc", &gatewayv1.BackendTLSPolicy{})
	acceptOnGateway(t, ns, "reenc", &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "reenc"}}, &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Name: "reenc"}})
	waitExposureCondition(t, ns, "reenc", "Ready", "True")
	if c := condition(getExposure(t, ns, "reenc").Status.Conditions, "BackendTLSPolicyAccepted"); c != "" {
		t.Fatalf("condition of a policy that is gone: %s", c)
	}
}

// TestRoutingGatewayTLSNotServed: a cluster that serves HTTPRoute but not TLSRoute reports
// APINotServed for a Passthrough Gateway exposure.
func TestRoutingGatewayTLSNotServed(t *testing.T) {
	ctx := context.Background()
	paths, err := testenv.CRDPaths()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: paths[1:], ErrorIfPathMissing: true}); err != nil {
			t.Fatal(err)
		}
	})
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	const crd = "tlsroutes.gateway.networking.k8s.io"
	if err := k8s.Delete(ctx, &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: crd}}); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	eventually(t, "CRD gone", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: crd}, &apiextensionsv1.CustomResourceDefinition{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	ns := routingSetup(t, "rt-notls")
	create(t, routedExposure(ns, "pass", exposurev1alpha1.RouterSpec{
		Type: exposurev1alpha1.RouterGateway, Gateway: &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}},
		TLS: &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSPassthrough},
	}))
	e := waitExposureCondition(t, ns, "pass", "Routed", "False/APINotServed")
	if !strings.Contains(condition(e.Status.Conditions, "Routed"), "TLSRoute (gateway.networking.k8s.io/v1)") {
		t.Fatal(condition(e.Status.Conditions, "Routed"))
	}
}

// TestRoutingChildLosesLabel: routing objects without the operator's label are cached as
// shells (identity, labels, owners). An Ingress of the exposure whose label someone removed
// becomes such a shell; the exposure still knows it for its own and applies it again, rather
// than taking it for someone else's.
func TestRoutingChildLosesLabel(t *testing.T) {
	ctx := context.Background()
	ns := routingSetup(t, "rt-label")
	create(t, routedExposure(ns, "triton", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress}))
	waitExposureCondition(t, ns, "triton", "Ready", "True")
	ing, _ := get(t, ns, "triton", &networkingv1.Ingress{})
	uid := ing.UID
	patch := []byte(`{"metadata":{"labels":{"` + exposurev1alpha1.LabelManagedBy + `":null}}}`)
	if err := k8s.Patch(ctx, ing, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the label back on the same Ingress", func() (bool, string) {
		got, found := get(t, ns, "triton", &networkingv1.Ingress{})
		return found && got.UID == uid && got.Labels[exposurev1alpha1.LabelManagedBy] == exposurev1alpha1.ManagedByValue, fmt.Sprint(got.Labels)
	})
	e := waitExposureCondition(t, ns, "triton", "Ready", "True")
	if c := condition(e.Status.Conditions, "IngressReady"); !strings.HasPrefix(c, "True") {
		t.Fatalf("IngressReady %s", c)
	}

	// The same for the Service, which must keep its node ports.
	svc, _ := get(t, ns, "triton", &corev1.Service{})
	before := fmt.Sprint(kubecache.ServiceNodePorts(svc))
	if err := k8s.Patch(ctx, svc, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the label back on the same Service", func() (bool, string) {
		got, found := get(t, ns, "triton", &corev1.Service{})
		return found && got.UID == svc.UID && got.Labels[exposurev1alpha1.LabelManagedBy] == exposurev1alpha1.ManagedByValue, fmt.Sprint(got.Labels)
	})
	got, _ := get(t, ns, "triton", &corev1.Service{})
	if after := fmt.Sprint(kubecache.ServiceNodePorts(got)); after != before {
		t.Fatalf("node ports %s, were %s", after, before)
	}
	if e := waitExposureCondition(t, ns, "triton", "Ready", "True"); fmt.Sprint(e.Status.NodePorts) == "" {
		t.Fatal("no node ports in status")
	}
}

// behindClient is a cache that has not seen some objects yet: Gets of the hidden objects
// (by Go type and key) answer NotFound, everything else (and every write) goes through.
type behindClient struct {
	client.Client
	hidden map[string]bool
}

func hiddenKey(obj client.Object, key client.ObjectKey) string { return fmt.Sprintf("%T %s", obj, key) }

func (b behindClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if b.hidden[hiddenKey(obj, key)] {
		return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
	}
	return b.Client.Get(ctx, key, obj, opts...)
}

// TestNameTakenBehindTheCache: someone else's Ingress or Service of the exposure's name that
// the cache has not shown yet makes the create fail with AlreadyExists. The conflict is
// reported by that reconcile, as when the cache shows it: Ready never says True meanwhile. An
// object the exposure made itself (the cache is behind its own create) is no conflict.
func TestNameTakenBehindTheCache(t *testing.T) {
	ctx := context.Background()
	ns, tn := tenantWithHosts(t, "behind")
	cached, informers := cachedClientWith(t)
	reconciler := func(hide ...client.Object) *exposure.Reconciler {
		hidden := map[string]bool{}
		for _, o := range hide {
			hidden[hiddenKey(o, client.ObjectKeyFromObject(o))] = true
		}
		return newExposureReconciler(t, behindClient{Client: cached, hidden: hidden}, informers, kubecache.NodePortsFrom(nil), nopRecorder{})
	}
	reconcile := func(r *exposure.Reconciler, exp *exposurev1alpha1.InferenceExposure) (ctrl.Result, *exposurev1alpha1.InferenceExposure) {
		t.Helper()
		// The cache shows the exposure as it is now (else the status write is refused as stale
		// and the reconcile writes nothing), and its tenant.
		live := getExposure(t, exp.Namespace, exp.Name)
		eventually(t, "the cache to show the exposure and its tenant", func() (bool, string) {
			var e exposurev1alpha1.InferenceExposure
			return cached.Get(ctx, client.ObjectKeyFromObject(exp), &e) == nil && e.ResourceVersion == live.ResourceVersion &&
				cached.Get(ctx, client.ObjectKeyFromObject(tn), &exposurev1alpha1.InferenceTenant{}) == nil, "not yet"
		})
		res, err := r.Reconcile(ctx, reqFor(exp))
		if err != nil {
			t.Fatal(err)
		}
		return res, getExposure(t, exp.Namespace, exp.Name)
	}

	// An Ingress of the exposure's name appears between the cache read and the create.
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "x", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}
	create(t, ing)
	web := routedExposure(ns, "web", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress})
	create(t, web)
	_, e := reconcile(reconciler(ing), web)
	for typ, want := range map[string]string{"IngressReady": "False/RouterConflict", "Routed": "False/RouterConflict", "Ready": "False/RouterConflict"} {
		if got := condition(e.Status.Conditions, typ); !strings.HasPrefix(got, want) {
			t.Errorf("%s %s, want %s", typ, got, want)
		}
	}
	if got, _ := get(t, ns, "web", &networkingv1.Ingress{}); got.UID != ing.UID || len(got.OwnerReferences) != 0 {
		t.Fatal("the other Ingress was touched")
	}

	// The same with the Service.
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
	create(t, svc)
	api := routedExposure(ns, "api", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress})
	create(t, api)
	_, e = reconcile(reconciler(svc), api)
	for typ, want := range map[string]string{"ServiceReady": "False/ServiceConflict", "Ready": "False/ServiceConflict"} {
		if got := condition(e.Status.Conditions, typ); !strings.HasPrefix(got, want) {
			t.Errorf("%s %s, want %s", typ, got, want)
		}
	}
	if _, found := get(t, ns, "api", &networkingv1.Ingress{}); found {
		t.Error("an Ingress for an exposure whose Service name is taken")
	}

	// The exposure's own objects behind the cache: no conflict, a quick look again.
	own := routedExposure(ns, "own", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress})
	create(t, own)
	if _, e = reconcile(reconciler(), own); !strings.HasPrefix(condition(e.Status.Conditions, "Ready"), "True") {
		t.Fatalf("Ready %s", condition(e.Status.Conditions, "Ready"))
	}
	res, e := reconcile(reconciler(&corev1.Service{ObjectMeta: own.ObjectMeta}, &networkingv1.Ingress{ObjectMeta: own.ObjectMeta}), own)
	if res.RequeueAfter <= 0 {
		t.Errorf("result %+v: want a quick requeue while the cache is behind", res)
	}
	for _, typ := range []string{"ServiceReady", "IngressReady", "Ready"} {
		if got := condition(e.Status.Conditions, typ); !strings.HasPrefix(got, "True") {
			t.Errorf("%s %s with the cache behind the exposure's own objects", typ, got)
		}
	}
}

// TestNestedHostDomains: a host under a tenant's hostDomain belongs to it unless another
// tenant's more specific domain holds it. The broad tenant cannot take hosts under the nested
// tenant's domain, not even before that tenant routes them, nor keep routing one once the
// nested tenant appears; the nested tenant's own exposure gets its default host.
func TestNestedHostDomains(t *testing.T) {
	broadNS := routingSetup(t, "rt-broad") // hostDomain apps.gpu.example.com
	nested := "beta." + hostDomain
	nestedNS := newNamespace(t, "rt-nested")
	thiefHost := exposurev1alpha1.Hostname("vllm." + nestedNS + "." + nested)

	// Before the nested tenant exists the host is the broad tenant's: it routes it.
	create(t, routedExposure(broadNS, "thief", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: thiefHost}))
	waitExposureCondition(t, broadNS, "thief", "Routed", "True")
	waitExists(t, broadNS, "thief", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, nil)

	// The platform gives beta its own domain inside: the broad tenant loses the host at once.
	cleanupTenants(t, "rt-nested")
	cleanupServices(t, nestedNS)
	tn := newTenant("rt-nested", nil, nil, nestedNS)
	tn.Spec.HostDomain = nested
	create(t, tn)
	e := waitExposureCondition(t, broadNS, "thief", "Routed", "False/HostConflict")
	msg := condition(e.Status.Conditions, "Routed")
	if !strings.Contains(msg, "belongs to another tenant") || strings.Contains(strings.ReplaceAll(msg, string(thiefHost), ""), "rt-nested") {
		t.Fatalf("the message must say why and name no other tenant's objects: %s", msg)
	}
	waitGone(t, broadNS, "thief", &networkingv1.Ingress{})

	// The nested tenant's exposure gets the host, whoever was first.
	create(t, routedExposure(nestedNS, "vllm", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress}))
	waitExposureCondition(t, nestedNS, "vllm", "Routed", "True")
	if got := getExposure(t, nestedNS, "vllm").Status.URL; !strings.Contains(got, string(thiefHost)) {
		t.Fatalf("the nested tenant's URL is %q, want its default host %s", got, thiefHost)
	}
	// A new exposure of the broad tenant asking for a host in there is refused from the start,
	// and hosts of its own outside the nested domain are still its.
	create(t, routedExposure(broadNS, "late", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: exposurev1alpha1.Hostname("x." + nested)}))
	waitExposureCondition(t, broadNS, "late", "Routed", "False/HostConflict")
	create(t, routedExposure(broadNS, "own", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: exposurev1alpha1.Hostname("own.alpha." + hostDomain)}))
	waitExposureCondition(t, broadNS, "own", "Routed", "True")
}

// TestForeignRoutingHosts: a host that a routing object the operator did not make (the
// platform's own Ingress) serves from another namespace cannot be taken by a later exposure,
// not even a path of it; once that object goes, the exposure gets the host. An object made
// after the exposure does not take the host from it.
func TestForeignRoutingHosts(t *testing.T) {
	ctx := context.Background()
	ns := routingSetup(t, "rt-foreign")
	platformNS := newNamespace(t, "platform")
	grafana := "grafana." + hostDomain
	pathType := networkingv1.PathTypePrefix
	ingress := func(name, host string) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: platformNS, Name: name}, Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("nginx"),
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pathType, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "grafana", Port: networkingv1.ServiceBackendPort{Number: 3000}}}}},
			}}}},
		}}
	}
	platform := ingress("grafana", grafana)
	create(t, platform)
	// Creation times have whole seconds: the exposure comes a second later, as it would.
	eventually(t, "the next second", func() (bool, string) { return time.Now().After(platform.CreationTimestamp.Add(time.Second)), "" })

	create(t, routedExposure(ns, "thief", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: exposurev1alpha1.Hostname(grafana),
		Paths: []exposurev1alpha1.HTTPPath{"/api/datasources"}}))
	e := waitExposureCondition(t, ns, "thief", "Routed", "False/HostConflict")
	if msg := condition(e.Status.Conditions, "Routed"); !strings.Contains(msg, "already served from another namespace") || strings.Contains(msg, platformNS) {
		t.Fatalf("the message must say why without naming the other namespace's objects: %s", msg)
	}
	if _, found := get(t, ns, "thief", &networkingv1.Ingress{}); found {
		t.Fatal("an Ingress on a host another namespace serves")
	}

	// The platform grants the tenant the host (to move the Ingress into an exposure): routed.
	// A host outside the tenant's domain is routed once granted too.
	updateTenant(t, "rt-foreign", func(tn *exposurev1alpha1.InferenceTenant) {
		tn.Spec.AllowedHosts = []string{grafana, "*.byo.example.net"}
	})
	waitExposureCondition(t, ns, "thief", "Routed", "True")
	waitExists(t, ns, "thief", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, nil)
	create(t, routedExposure(ns, "byo", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress, Host: "chat.byo.example.net"}))
	waitExposureCondition(t, ns, "byo", "Routed", "True")
	waitExists(t, ns, "byo", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, nil)

	// The grants are taken back: what they let the tenant serve stops being routed at once.
	updateTenant(t, "rt-foreign", func(tn *exposurev1alpha1.InferenceTenant) { tn.Spec.AllowedHosts = nil })
	waitExposureCondition(t, ns, "thief", "Routed", "False/HostConflict")
	waitGone(t, ns, "thief", &networkingv1.Ingress{})
	e = waitExposureCondition(t, ns, "byo", "Routed", "False/HostInvalid")
	if msg := condition(e.Status.Conditions, "Routed"); !strings.Contains(msg, "allowedHosts") {
		t.Fatalf("the message must say how to get the host: %s", msg)
	}
	waitGone(t, ns, "byo", &networkingv1.Ingress{})

	// The platform's Ingress goes: the host is free, and the exposure gets it.
	if err := k8s.Delete(ctx, platform); err != nil {
		t.Fatal(err)
	}
	waitExposureCondition(t, ns, "thief", "Routed", "True")
	waitExists(t, ns, "thief", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, nil)

	// A foreign object made afterwards does not take it back.
	create(t, ingress("late", grafana))
	eventually(t, "the exposure keeps the host", func() (bool, string) {
		c := condition(getExposure(t, ns, "thief").Status.Conditions, "Routed")
		return strings.HasPrefix(c, "True"), c
	})
	if _, found := get(t, ns, "thief", &networkingv1.Ingress{}); !found {
		t.Fatal("a later foreign Ingress took the host")
	}
}

// TestEnvoyGatewayTimeoutPolicy: on a Gateway of Envoy Gateway the exposure's idle timeout and
// request deadline, which the standard routes cannot hold (the GRPCRoute none at all), go into
// a BackendTrafficPolicy on its routes; TimeoutsApplied says so, Ready waits for Envoy Gateway
// to accept the policy, and the policy goes when the exposure moves to another Gateway.
func TestEnvoyGatewayTimeoutPolicy(t *testing.T) {
	if _, err := testenv.EnvoyGatewayCRD(); err != nil {
		t.Skipf("needs Envoy Gateway's BackendTrafficPolicy CRD from its module: %v", err)
	}
	ctx := context.Background()
	ns := routingSetup(t, "rt-eg")
	class := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "eg-" + ns}, Spec: gatewayv1.GatewayClassSpec{ControllerName: envoygateway.ControllerName}}
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "gateway-system", Name: "eg-" + ns}, Spec: gatewayv1.GatewaySpec{
		GatewayClassName: gatewayv1.ObjectName(class.Name),
		Listeners:        []gatewayv1.Listener{{Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType}}}}
	create(t, class)
	create(t, gw)
	t.Cleanup(func() { _ = k8s.Delete(ctx, gw); _ = k8s.Delete(ctx, class) })
	exp := routedExposure(ns, "llm", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway, GRPC: ptr.To(true),
		Gateway:  &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: gw.Name}},
		Timeouts: &exposurev1alpha1.RouterTimeouts{Idle: "10m", Request: "1h"}})
	exp.Spec.Ports.GRPC = ptr.To[int32](8001)
	create(t, exp)

	policy := waitExists(t, ns, "llm", func() *envoygateway.BackendTrafficPolicy { return &envoygateway.BackendTrafficPolicy{} }, func(p *envoygateway.BackendTrafficPolicy) (bool, string) {
		h := p.Spec.Timeout
		ok := h != nil && h.HTTP != nil && ptr.Deref(h.HTTP.StreamIdleTimeout, "") == "10m0s" && ptr.Deref(h.HTTP.RequestTimeout, "") == "1h0m0s" && len(p.Spec.TargetRefs) == 2 &&
			p.Spec.TargetRefs[0].Kind == "HTTPRoute" && p.Spec.TargetRefs[1].Kind == "GRPCRoute" && string(p.Spec.TargetRefs[1].Name) == "llm"
		return ok, fmt.Sprintf("%+v", p.Spec)
	})
	// The status is written after the policy: wait for it.
	if c := condition(waitExposureCondition(t, ns, "llm", "TimeoutsApplied", "True").Status.Conditions, "TimeoutsApplied"); !strings.Contains(c, "streamIdleTimeout") {
		t.Fatalf("TimeoutsApplied: %s", c)
	}
	waitExposureCondition(t, ns, "llm", "Ready", "False/Pending")

	// Envoy Gateway accepts the routes and the policy: Ready.
	acceptOnGateway(t, ns, "llm", &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "llm"}},
		&gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Name: "llm"}}, policy)
	waitExposureCondition(t, ns, "llm", "TimeoutPolicyAccepted", "True")
	waitExposureCondition(t, ns, "llm", "Ready", "True")

	// No idle limit: the policy lifts Envoy's own stream idle timer too.
	updateExposure(t, ns, "llm", func(e *exposurev1alpha1.InferenceExposure) { e.Spec.Router.Timeouts.Idle = "0" })
	waitExists(t, ns, "llm", func() *envoygateway.BackendTrafficPolicy { return &envoygateway.BackendTrafficPolicy{} }, func(p *envoygateway.BackendTrafficPolicy) (bool, string) {
		return ptr.Deref(p.Spec.Timeout.HTTP.StreamIdleTimeout, "") == "0s", fmt.Sprintf("%+v", p.Spec.Timeout.HTTP)
	})

	// On a Gateway of another implementation there is no such policy: it goes.
	updateExposure(t, ns, "llm", func(e *exposurev1alpha1.InferenceExposure) {
		e.Spec.Router.Gateway.ParentRef.Name = "ai-gateway"
	})
	waitGone(t, ns, "llm", &envoygateway.BackendTrafficPolicy{})
}

// TestInferencePool: an exposure that asks for router.inferencePool gets a pool per routed port
// (its selector, its ports, the tenant's endpoint picker), its routes go to the pools with the
// tenant as the fairness key, Ready waits for the Gateway's word on the pools as on the routes,
// a pool the Gateway refuses says why, and turning it off brings the Service back.
func TestInferencePool(t *testing.T) {
	if _, err := testenv.InferencePoolCRD(); err != nil {
		t.Skipf("needs the InferencePool CRD from the Gateway API Inference Extension's module: %v", err)
	}
	ns := routingSetup(t, "rt-pool")
	updateTenant(t, "rt-pool", func(tn *exposurev1alpha1.InferenceTenant) {
		tn.Spec.EndpointPicker = &exposurev1alpha1.EndpointPicker{Name: "vllm-epp", Port: 9002}
	})
	exp := routedExposure(ns, "llm", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway, GRPC: ptr.To(true),
		Gateway:       &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "ai-gateway"}},
		InferencePool: &exposurev1alpha1.InferencePoolSettings{}})
	exp.Spec.Ports.GRPC = ptr.To[int32](8001)
	create(t, exp)

	newPool := func() *inferencepool.InferencePool { return &inferencepool.InferencePool{} }
	pool := waitExists(t, ns, "llm", newPool, func(p *inferencepool.InferencePool) (bool, string) {
		return p.Spec.TargetPorts[0].Number == 8000 && p.Spec.AppProtocol == "http" && p.Spec.EndpointPickerRef != nil && p.Spec.EndpointPickerRef.Name == "vllm-epp" &&
			p.Spec.Selector.MatchLabels["app"] == "llm", fmt.Sprintf("%+v", p.Spec)
	})
	grpcPool := waitExists(t, ns, "llm-grpc", newPool, func(p *inferencepool.InferencePool) (bool, string) {
		return p.Spec.TargetPorts[0].Number == 8001 && p.Spec.AppProtocol == "kubernetes.io/h2c", fmt.Sprintf("%+v", p.Spec)
	})
	waitExists(t, ns, "llm", func() *gatewayv1.HTTPRoute { return &gatewayv1.HTTPRoute{} }, func(hr *gatewayv1.HTTPRoute) (bool, string) {
		r := hr.Spec.Rules[0]
		return string(ptr.Deref(r.BackendRefs[0].Kind, "")) == "InferencePool" && len(r.Filters) == 1 && r.Filters[0].RequestHeaderModifier.Set[0].Value == "rt-pool", fmt.Sprintf("%+v", r)
	})
	waitExposureCondition(t, ns, "llm", "InferencePoolAccepted", "Unknown")
	waitExposureCondition(t, ns, "llm", "Ready", "False/Pending")

	// The Gateway accepts the routes and the pools: Ready.
	acceptOnGateway(t, ns, "llm", &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "llm"}}, &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Name: "llm"}})
	reportPool := func(p *inferencepool.InferencePool, status metav1.ConditionStatus, reason string) {
		t.Helper()
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			live := &inferencepool.InferencePool{}
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(p), live); err != nil {
				return err
			}
			now := metav1.Now()
			live.Status.Parents = []inferencepool.ParentStatus{{
				ParentRef:      inferencepool.ParentReference{Group: ptr.To("gateway.networking.k8s.io"), Kind: "Gateway", Namespace: "gateway-system", Name: "ai-gateway"},
				ControllerName: "example.com/gateway",
				Conditions: []metav1.Condition{
					{Type: "Accepted", Status: status, Reason: reason, Message: "reported by the test", ObservedGeneration: live.Generation, LastTransitionTime: now},
					{Type: "ResolvedRefs", Status: metav1.ConditionTrue, Reason: "ResolvedRefs", ObservedGeneration: live.Generation, LastTransitionTime: now},
				},
			}}
			return k8s.Status().Update(context.Background(), live)
		}); err != nil {
			t.Fatal(err)
		}
	}
	reportPool(pool, metav1.ConditionTrue, "Accepted")
	reportPool(grpcPool, metav1.ConditionTrue, "Accepted")
	waitExposureCondition(t, ns, "llm", "InferencePoolAccepted", "True")
	waitExposureCondition(t, ns, "llm", "Ready", "True")

	// A Gateway that cannot route to pools says so; the exposure says why.
	reportPool(grpcPool, metav1.ConditionFalse, "NotSupportedByParent")
	e := waitExposureCondition(t, ns, "llm", "InferencePoolAccepted", "False/NotSupportedByParent")
	if c := condition(e.Status.Conditions, "InferencePoolAccepted"); !strings.Contains(c, "InferencePool llm-grpc") || !strings.Contains(c, "ai-gateway") {
		t.Fatalf("InferencePoolAccepted: %s", c)
	}

	// Turned off: the pools go, the routes go back to the Service.
	updateExposure(t, ns, "llm", func(e *exposurev1alpha1.InferenceExposure) { e.Spec.Router.InferencePool = nil })
	waitGone(t, ns, "llm", &inferencepool.InferencePool{})
	waitGone(t, ns, "llm-grpc", &inferencepool.InferencePool{})
	waitExists(t, ns, "llm", func() *gatewayv1.HTTPRoute { return &gatewayv1.HTTPRoute{} }, func(hr *gatewayv1.HTTPRoute) (bool, string) {
		r := hr.Spec.Rules[0]
		return string(ptr.Deref(r.BackendRefs[0].Kind, "")) == "Service" && len(r.Filters) == 0, fmt.Sprintf("%+v", r)
	})
	e = waitExposureCondition(t, ns, "llm", "Routed", "True")
	if c := condition(e.Status.Conditions, "InferencePoolAccepted"); c != "" {
		t.Fatalf("InferencePoolAccepted after the pools went: %s", c)
	}
}

// TestInferencePoolNotServed: without the InferencePool API the exposure says so and its routes
// keep the Service; once the CRD is installed, the pools come.
func TestInferencePoolNotServed(t *testing.T) {
	crdPath, err := testenv.InferencePoolCRD()
	if err != nil {
		t.Skipf("needs the InferencePool CRD from the Gateway API Inference Extension's module: %v", err)
	}
	reinstall := withoutCRD(t, "inferencepools.inference.networking.k8s.io", crdPath)
	ns := routingSetup(t, "rt-nopool")
	create(t, routedExposure(ns, "llm", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterGateway,
		Gateway:       &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "ai-gateway"}},
		InferencePool: &exposurev1alpha1.InferencePoolSettings{}}))
	e := waitExposureCondition(t, ns, "llm", "InferencePoolAccepted", "False/APINotServed")
	if c := condition(e.Status.Conditions, "InferencePoolAccepted"); !strings.Contains(c, "inference.networking.k8s.io/v1") || !strings.Contains(c, "the routes go to the Service llm") {
		t.Fatalf("InferencePoolAccepted: %s", c)
	}
	hr, _ := get(t, ns, "llm", &gatewayv1.HTTPRoute{})
	if k := string(ptr.Deref(hr.Spec.Rules[0].BackendRefs[0].Kind, "")); k != "Service" {
		t.Fatalf("without the API the route goes to a %s", k)
	}

	// The platform installs the API: the pools come, the route moves to them.
	reinstall()
	waitExists(t, ns, "llm", func() *inferencepool.InferencePool { return &inferencepool.InferencePool{} }, nil)
	waitExists(t, ns, "llm", func() *gatewayv1.HTTPRoute { return &gatewayv1.HTTPRoute{} }, func(hr *gatewayv1.HTTPRoute) (bool, string) {
		return string(ptr.Deref(hr.Spec.Rules[0].BackendRefs[0].Kind, "")) == "InferencePool", fmt.Sprintf("%+v", hr.Spec.Rules[0])
	})
}
