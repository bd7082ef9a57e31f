package router

import (
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	routev1 "github.com/openshift/api/route/v1"
)

func TestConflicts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(m) * time.Minute)) }
	key := func(ns, n string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: n} }
	a, b, c := key("team-a", "triton"), key("team-b", "triton"), key("team-a", "vllm")
	for _, tc := range []struct {
		name   string
		in     []Claimant
		losers map[types.NamespacedName]types.NamespacedName // loser -> holder
	}{
		{"different hosts", []Claimant{
			{a, at(0), []Claim{{"a.example.com", "/"}}},
			{b, at(1), []Claim{{"b.example.com", "/"}}},
		}, nil},
		{"same host, different paths", []Claimant{
			{a, at(0), []Claim{{"x.example.com", "/v2"}}},
			{c, at(1), []Claim{{"x.example.com", "/v1"}}},
		}, nil},
		{"same host and path: the older keeps it, whatever the namespace", []Claimant{
			{b, at(5), []Claim{{"x.example.com", "/"}}},
			{a, at(1), []Claim{{"x.example.com", "/"}}},
		}, map[types.NamespacedName]types.NamespacedName{b: a}},
		{"same creation time: namespace/name decides", []Claimant{
			{b, at(1), []Claim{{"x.example.com", "/"}}},
			{a, at(1), []Claim{{"x.example.com", "/"}}},
		}, map[types.NamespacedName]types.NamespacedName{b: a}},
		{"gRPC host blocks any path on it", []Claimant{
			{a, at(0), []Claim{{"g.example.com", ""}}},
			{c, at(1), []Claim{{"g.example.com", "/v2"}}},
		}, map[types.NamespacedName]types.NamespacedName{c: a}},
		{"path on a host blocks a later gRPC claim on it", []Claimant{
			{a, at(0), []Claim{{"g.example.com", "/v2"}}},
			{c, at(1), []Claim{{"g.example.com", ""}}},
		}, map[types.NamespacedName]types.NamespacedName{c: a}},
		{"another namespace may not route any other path on a host", []Claimant{
			{a, at(0), []Claim{{"api.alpha.example.com", "/v2"}, {"api.alpha.example.com", "/health"}}},
			{b, at(1), []Claim{{"api.alpha.example.com", "/"}}},
		}, map[types.NamespacedName]types.NamespacedName{b: a}},
		{"the host's namespace may still split it by path", []Claimant{
			{a, at(0), []Claim{{"api.alpha.example.com", "/v2"}}},
			{c, at(1), []Claim{{"api.alpha.example.com", "/v1"}}},
			{b, at(2), []Claim{{"api.alpha.example.com", "/v3"}}},
		}, map[types.NamespacedName]types.NamespacedName{b: a}},
		{"a loser claims nothing, so a third one is free", []Claimant{
			{a, at(0), []Claim{{"x.example.com", "/"}}},
			{b, at(1), []Claim{{"x.example.com", "/"}, {"y.example.com", "/"}}},
			{c, at(2), []Claim{{"y.example.com", "/"}}},
		}, map[types.NamespacedName]types.NamespacedName{b: a}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Conflicts(tc.in)
			for loser, c := range got {
				if c.OtherNamespace != (c.Holder.Namespace != loser.Namespace) {
					t.Errorf("%s: OtherNamespace = %v for holder %s", loser, c.OtherNamespace, c.Holder)
				}
			}
			if len(got) != len(tc.losers) {
				t.Fatalf("got %v, want losers %v", got, tc.losers)
			}
			for loser, holder := range tc.losers {
				if got[loser].Holder != holder {
					t.Errorf("%s: holder %v, want %v", loser, got[loser].Holder, holder)
				}
				if got[loser].Message() == "" {
					t.Error("empty message")
				}
			}
		})
	}
}

// hostExposure is an exposure routing http and grpc with the given hosts.
func hostExposure(ns, name, host, grpcHost string, grpc bool) *exposurev1alpha1.InferenceExposure {
	e := &exposurev1alpha1.InferenceExposure{}
	e.Namespace, e.Name = ns, name
	e.Spec.Ports.HTTP, e.Spec.Ports.GRPC = ptr.To[int32](8000), ptr.To[int32](8001)
	e.Spec.Router = &exposurev1alpha1.RouterSpec{Host: exposurev1alpha1.Hostname(host), GRPCHost: exposurev1alpha1.Hostname(grpcHost), GRPC: ptr.To(grpc)}
	return e
}

// TestHostKeys: exposures that can route the same host share a key, whatever their tenants'
// domains are; the key needs no tenant.
func TestHostKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		exp  *exposurev1alpha1.InferenceExposure
		want []string
	}{
		{"default host", hostExposure("alpha", "triton", "", "", false), []string{"triton.alpha"}},
		{"default hosts with gRPC", hostExposure("alpha", "triton", "", "", true), []string{"triton.alpha", "triton-grpc.alpha"}},
		{"explicit host", hostExposure("beta", "x", "triton.alpha.apps.example.com", "", false), []string{"triton.alpha"}},
		{"explicit gRPC host", hostExposure("beta", "x", "api.example.com", "rpc.example.com", true), []string{"api.example", "rpc.example"}},
		{"one label", hostExposure("beta", "x", "localhost", "", false), []string{"localhost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := HostKeys(tc.exp); !slices.Equal(got, tc.want) {
				t.Fatalf("HostKeys = %v, want %v", got, tc.want)
			}
		})
	}
	none := hostExposure("a", "b", "", "", false)
	none.Spec.Router.Type = exposurev1alpha1.RouterNone
	if HostKeys(none) != nil {
		t.Fatal("an exposure with router.type None has host keys")
	}
}

// TestExplicitHostKeys: only hosts an exposure sets itself are indexed; every default host's key
// leads back to its exposure by name.
func TestExplicitHostKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		exp  *exposurev1alpha1.InferenceExposure
		want []string
	}{
		{"default hosts", hostExposure("alpha", "triton", "", "", true), nil},
		{"explicit host and its gRPC host", hostExposure("beta", "x", "api.example.com", "", true), []string{"api.example", "api-grpc.example"}},
		{"explicit gRPC host only", hostExposure("beta", "x", "", "rpc.example.com", true), []string{"rpc.example"}},
		{"explicit host equal to the default", hostExposure("alpha", "triton", "triton.alpha.example.com", "", false), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExplicitHostKeys(tc.exp); !slices.Equal(got, tc.want) {
				t.Fatalf("ExplicitHostKeys = %v, want %v", got, tc.want)
			}
			// Every key is found: by the index or by name.
			for _, k := range HostKeys(tc.exp) {
				self := types.NamespacedName{Namespace: tc.exp.Namespace, Name: tc.exp.Name}
				if !slices.Contains(ExplicitHostKeys(tc.exp), k) && !slices.Contains(DefaultHostOwners(k), self) {
					t.Fatalf("key %s is neither indexed nor leads back to %s", k, self)
				}
			}
		})
	}
	if got := DefaultHostOwners("triton-grpc.alpha"); !slices.Equal(got, []types.NamespacedName{{Namespace: "alpha", Name: "triton-grpc"}, {Namespace: "alpha", Name: "triton"}}) {
		t.Fatalf("DefaultHostOwners = %v", got)
	}
}

func TestServedHosts(t *testing.T) {
	ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{{Host: "A.example.com"}, {Host: "*.wild.example.com"}, {Host: ""}},
		TLS:   []networkingv1.IngressTLS{{Hosts: []string{"a.example.com", "tls.example.com"}}},
	}}
	if got := strings.Join(ServedHosts(ing), " "); got != "a.example.com tls.example.com" {
		t.Errorf("Ingress: %s", got)
	}
	rt := &routev1.Route{Spec: routev1.RouteSpec{Host: "r.example.com"}}
	if got := strings.Join(ServedHosts(rt), " "); got != "r.example.com" {
		t.Errorf("Route: %s", got)
	}
	hr := &gatewayv1.HTTPRoute{Spec: gatewayv1.HTTPRouteSpec{Hostnames: []gatewayv1.Hostname{"h.example.com", "*.example.com"}}}
	if got := strings.Join(ServedHosts(hr), " "); got != "h.example.com" {
		t.Errorf("HTTPRoute: %s", got)
	}
	if ServedHosts(&gatewayv1.BackendTLSPolicy{}) != nil {
		t.Error("a BackendTLSPolicy serves no host")
	}
}
