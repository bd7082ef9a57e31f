package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/childapply"
	"github.com/inference-exposure/inference-exposure-operator/internal/render"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// markForeign sets an annotation and a label on a live object as another tool would.
func markForeign(t *testing.T, obj client.Object) {
	t.Helper()
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	ann, lbl := obj.GetAnnotations(), obj.GetLabels()
	if ann == nil {
		ann = map[string]string{}
	}
	ann["someone"] = "else"
	lbl["extra"] = "kept"
	obj.SetAnnotations(ann)
	obj.SetLabels(lbl)
	if err := k8s.Patch(context.Background(), obj, patch, client.FieldOwner("someone-else")); err != nil {
		t.Fatal(err)
	}
}

func foreignKept(o client.Object) bool {
	return o.GetAnnotations()["someone"] == "else" && o.GetLabels()["extra"] == "kept"
}

// TestRoutingFieldsLeave: every routing kind loses what the exposure stops asking for (class,
// TLS secret, a path, an annotation, a timeout), and keeps what someone else set on it.
func TestRoutingFieldsLeave(t *testing.T) {
	ns := routingSetup(t, "rt-leave")
	gw := &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
	create(t,
		routedExposure(ns, "ing", exposurev1alpha1.RouterSpec{
			Type: exposurev1alpha1.RouterIngress, Paths: []exposurev1alpha1.HTTPPath{"/v2", "/health"}, Timeout: "600s",
			TLS: &exposurev1alpha1.RouterTLS{SecretName: "alpha-tls-cert"}, Ingress: &exposurev1alpha1.IngressSettings{ClassName: "traefik"},
			Annotations: map[string]string{"team": "a"},
		}),
		routedExposure(ns, "rt", exposurev1alpha1.RouterSpec{
			Type: exposurev1alpha1.RouterRoute, Timeout: "600s", TLS: &exposurev1alpha1.RouterTLS{SecretName: "alpha-tls-cert"},
			Annotations: map[string]string{"team": "a"},
		}),
		routedExposure(ns, "gw", exposurev1alpha1.RouterSpec{
			Type: exposurev1alpha1.RouterGateway, GRPC: ptr.To(true), Gateway: gw, Paths: []exposurev1alpha1.HTTPPath{"/v2", "/health"}, Timeouts: &exposurev1alpha1.RouterTimeouts{Idle: "600s", Request: "1h"},
			Annotations: map[string]string{"team": "a"},
		}),
	)
	for _, n := range []string{"ing", "rt", "gw"} {
		waitExposureCondition(t, ns, n, "Routed", "True") // in place; no Route or Gateway controller runs here
	}
	ing, _ := get(t, ns, "ing", &networkingv1.Ingress{})
	rt, _ := get(t, ns, "rt", &routev1.Route{})
	hr, _ := get(t, ns, "gw", &gatewayv1.HTTPRoute{})
	gr, _ := get(t, ns, "gw", &gatewayv1.GRPCRoute{})
	if ptr.Deref(ing.Spec.IngressClassName, "") != "traefik" || len(ing.Spec.TLS) != 1 || rt.Spec.TLS.ExternalCertificate == nil ||
		len(hr.Spec.Rules[0].Matches) != 2 || gr.Annotations["team"] != "a" {
		t.Fatalf("not what was asked for: %+v %+v %+v", ing.Spec, rt.Spec.TLS, hr.Spec.Rules)
	}
	for _, o := range []client.Object{ing, rt, hr, gr} {
		markForeign(t, o)
	}

	drop := func(e *exposurev1alpha1.InferenceExposure) {
		e.Spec.Router.Annotations = nil
		e.Spec.Router.Timeout = ""
		e.Spec.Router.Timeouts = nil
		e.Spec.Router.TLS = nil
		e.Spec.Router.Ingress = nil
		if len(e.Spec.Router.Paths) > 1 {
			e.Spec.Router.Paths = e.Spec.Router.Paths[:1]
		}
	}
	for _, n := range []string{"ing", "rt", "gw"} {
		updateExposure(t, ns, n, drop)
	}
	waitExists(t, ns, "ing", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, func(i *networkingv1.Ingress) (bool, string) {
		// Without a secretName the host stays in tls (the controller's default certificate).
		// The default class is ingress-nginx's: its annotations come, Traefik's go, and the
		// timeout is the default.
		return i.Spec.IngressClassName == nil && len(i.Spec.TLS) == 1 && i.Spec.TLS[0].SecretName == "" && len(i.Spec.Rules[0].HTTP.Paths) == 1 &&
				i.Annotations["team"] == "" && i.Annotations[router.TraefikRouterTLS] == "" && i.Annotations[router.NginxReadTimeout] == "300" && foreignKept(i),
			fmt.Sprintf("%+v %v %v", i.Spec, i.Annotations, i.Labels)
	})
	waitExists(t, ns, "rt", func() *routev1.Route { return &routev1.Route{} }, func(r *routev1.Route) (bool, string) {
		return r.Spec.TLS != nil && r.Spec.TLS.ExternalCertificate == nil && r.Annotations["team"] == "" &&
			r.Annotations[router.RouteTimeout] == "300s" && foreignKept(r), fmt.Sprintf("%+v %v", r.Spec.TLS, r.Annotations)
	})
	waitExists(t, ns, "gw", func() *gatewayv1.HTTPRoute { return &gatewayv1.HTTPRoute{} }, func(h *gatewayv1.HTTPRoute) (bool, string) {
		return len(h.Spec.Rules[0].Matches) == 1 && string(*h.Spec.Rules[0].Timeouts.Request) == "0s" && h.Annotations["team"] == "" && foreignKept(h),
			fmt.Sprintf("%+v %v", h.Spec.Rules, h.Annotations)
	})
	waitExists(t, ns, "gw", func() *gatewayv1.GRPCRoute { return &gatewayv1.GRPCRoute{} }, func(g *gatewayv1.GRPCRoute) (bool, string) {
		return g.Annotations["team"] == "" && foreignKept(g), fmt.Sprint(g.Annotations)
	})
	// One apply manager per object, nothing left to an update entry of the operator's.
	for _, o := range []client.Object{&networkingv1.Ingress{}, &routev1.Route{}, &gatewayv1.HTTPRoute{}} {
		name := map[string]string{"*v1.Ingress": "ing", "*v1.Route": "rt", "*v1.HTTPRoute": "gw"}[fmt.Sprintf("%T", o)]
		o, _ = get(t, ns, name, o)
		for _, m := range o.GetManagedFields() {
			if m.Manager == exposurev1alpha1.FieldManager && m.Operation != metav1.ManagedFieldsOperationApply {
				t.Errorf("%T %s: the operator still holds fields through %s", o, name, m.Operation)
			}
		}
	}
}

// TestTakeOverFromEarlierVersions: an Ingress written by the update-based code of earlier
// versions (create and update under the same field manager, with its managed-annotations
// bookkeeping) is taken over: the fields the exposure no longer asks for go, the bookkeeping
// annotation goes, what others set stays, and one apply entry is left.
func TestTakeOverFromEarlierVersions(t *testing.T) {
	ctx := context.Background()
	ns, tn := tenantWithHosts(t, "rt-upgrade")
	exp := routedExposure(ns, "triton", exposurev1alpha1.RouterSpec{Type: exposurev1alpha1.RouterIngress})
	create(t, exp)

	// What an earlier version left: its class, TLS and annotation choices, written by create.
	old := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "triton", Labels: render.ChildLabels(exp, tn.Name),
			OwnerReferences: []metav1.OwnerReference{render.OwnerReference(exp)},
			Annotations: map[string]string{"team": "a", router.NginxReadTimeout: "600",
				"exposure.inference.dev/managed-annotations": "exposure.inference.dev/managed-annotations," + router.NginxReadTimeout + ",team"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("traefik"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"triton." + ns + "." + hostDomain}, SecretName: "alpha-tls-cert"}},
			Rules: []networkingv1.IngressRule{{Host: "triton." + ns + "." + hostDomain, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: "triton", Port: networkingv1.ServiceBackendPort{Number: 8000}}}}},
			}}}},
		},
	}
	if err := k8s.Create(ctx, old, client.FieldOwner(exposurev1alpha1.FieldManager)); err != nil {
		t.Fatal(err)
	}
	markForeign(t, old)

	startManager(t, Options{Pool: mustPool(t, 30000, 32767), DefaultBlockSize: 100, MaxConcurrent: 2})
	waitExposureCondition(t, ns, "triton", "Ready", "True")
	ing := waitExists(t, ns, "triton", func() *networkingv1.Ingress { return &networkingv1.Ingress{} }, func(i *networkingv1.Ingress) (bool, string) {
		return i.Spec.IngressClassName == nil && len(i.Spec.TLS) == 1 && i.Spec.TLS[0].SecretName == "" && i.Annotations["team"] == "" &&
				i.Annotations["exposure.inference.dev/managed-annotations"] == "" && i.Annotations[router.NginxReadTimeout] == "300" && foreignKept(i),
			fmt.Sprintf("%+v %v", i.Spec, i.Annotations)
	})
	var managers []string
	for _, m := range ing.ManagedFields {
		managers = append(managers, m.Manager+"/"+string(m.Operation))
	}
	if strings.Join(managers, ",") != exposurev1alpha1.FieldManager+"/Apply,someone-else/Update" {
		t.Fatalf("managers = %v", managers)
	}
}

// TestTakeOverLeaksNoNodePorts: someone edits a Service of the operator, dropping its
// annotations and moving a node port. The operator's next apply first takes its fields over
// (one write) and then moves the port back at once. The API server may try that apply on its
// watch cache's copy from before the takeover: the try allocates the port, the write fails,
// and the try on the current object finds the port taken. The port then stays allocated to
// nobody until the API server's repair loop runs, minutes later, and the operator waits for
// it. The race is met in a few percent of tries, so the test repeats it.
func TestTakeOverLeaksNoNodePorts(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, "takeover-ports")
	cleanupServices(t, ns)
	a := &childapply.Applier{Client: k8s, APIReader: k8s}
	desired := func(name string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "takeover"}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "triton"},
				Ports: []corev1.ServicePort{{Name: "grpc", Port: 8001, NodePort: 32650}}},
		}
	}
	for i := range 40 {
		name := fmt.Sprintf("triton-%d", i)
		if _, _, err := a.Apply(ctx, nil, desired(name)); err != nil {
			t.Fatalf("try %d: creating: %v", i, err)
		}
		key := client.ObjectKey{Namespace: ns, Name: name}
		update(t, key, &corev1.Service{}, func(s *corev1.Service) {
			s.Annotations = map[string]string{"team": "keep-me"}
			s.Spec.Ports[0].NodePort = 32651
		})
		live := &corev1.Service{}
		if err := k8s.Get(ctx, key, live); err != nil {
			t.Fatal(err)
		}
		out, wrote, err := a.Apply(ctx, live, desired(name))
		if err != nil {
			t.Fatalf("try %d: moving the port back: %v", i, err)
		}
		if got := out.(*corev1.Service).Spec.Ports[0].NodePort; !wrote || got != 32650 {
			t.Fatalf("try %d: wrote=%v, node port %d", i, wrote, got)
		}
		if err := k8s.Delete(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
}
