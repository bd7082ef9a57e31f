package router

import (
	"slices"
	"testing"

	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/bc", false},
		{"nginx.ingress.kubernetes.io/*snippet*", "nginx.ingress.kubernetes.io/configuration-snippet", true},
		{"nginx.ingress.kubernetes.io/*snippet*", "nginx.ingress.kubernetes.io/server-snippets", true},
		{"nginx.ingress.kubernetes.io/auth-*", "nginx.ingress.kubernetes.io/auth-url", true},
		{"nginx.ingress.kubernetes.io/auth-*", "nginx.ingress.kubernetes.io/rewrite-target", false},
		{"*", "anything/at-all", true},
		{"haproxy.org/*-ca", "haproxy.org/server-ca", true},
		{"haproxy.org/*-ca", "haproxy.org/server-cache", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
	} {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// TestFilterAnnotations: the escalation keys of the issue are refused by default, ordinary
// ones applied; the tenant's policy widens and narrows.
func TestFilterAnnotations(t *testing.T) {
	requested := map[string]string{
		"nginx.ingress.kubernetes.io/configuration-snippet":      "more_set_headers x;",
		"nginx.ingress.kubernetes.io/server-snippet":             "location /x {}",
		"nginx.ingress.kubernetes.io/auth-url":                   "http://evil",
		"nginx.ingress.kubernetes.io/mirror-target":              "http://evil",
		"nginx.ingress.kubernetes.io/auth-tls-secret":            "kube-system/admin",
		"nginx.ingress.kubernetes.io/server-alias":               "victim.example.com",
		"haproxy.org/backend-config-snippet":                     "http-request deny",
		"nginx.ingress.kubernetes.io/canary":                     "true",
		"nginx.ingress.kubernetes.io/canary-weight":              "100",
		"nginx.ingress.kubernetes.io/enable-global-auth":         "false",
		"nginx.ingress.kubernetes.io/permanent-redirect":         "https://evil.example.org",
		"nginx.ingress.kubernetes.io/custom-headers":             "kube-system/secrets-as-headers",
		"traefik.ingress.kubernetes.io/router.middlewares":       "other-team-strip@kubernetescrd",
		"traefik.ingress.kubernetes.io/service.serverstransport": "other-team-insecure@kubernetescrd",
		"nginx.ingress.kubernetes.io/rewrite-target":             "/",
		"nginx.org/mergeable-ingress-type":                       "minion",
		"nginx.org/listen-ports":                                 "22",
		"nginx.org/proxy-read-timeout":                           "600s",
		"example.com/team":                                       "a",
	}
	refusedKeys := func(r []Refusal) []string {
		var out []string
		for _, x := range r {
			out = append(out, x.Key)
		}
		return out
	}
	applied, refused := FilterAnnotations(requested, AnnotationPolicy{})
	if len(applied) != 3 || applied["example.com/team"] != "a" || applied["nginx.ingress.kubernetes.io/rewrite-target"] != "/" || applied["nginx.org/proxy-read-timeout"] != "600s" {
		t.Fatalf("applied = %v", applied)
	}
	if len(refused) != 16 || !slices.IsSorted(refusedKeys(refused)) {
		t.Fatalf("refused = %v", refused)
	}
	// The platform allows external auth for this tenant, and denies rewrites.
	applied, refused = FilterAnnotations(requested, AnnotationPolicy{Allow: []string{"nginx.ingress.kubernetes.io/auth-url"}, Deny: []string{"nginx.ingress.kubernetes.io/rewrite-*"}})
	if _, ok := applied["nginx.ingress.kubernetes.io/auth-url"]; !ok || slices.Contains(refusedKeys(refused), "nginx.ingress.kubernetes.io/auth-url") {
		t.Fatalf("allow did not widen: %v / %v", applied, refused)
	}
	if _, ok := applied["nginx.ingress.kubernetes.io/rewrite-target"]; ok {
		t.Fatal("deny did not narrow")
	}
	if msg := RefusalMessage(refused); msg == "" {
		t.Fatal("no message")
	}
}

// TestOverrideNeedsPolicy: a tenant annotation does not replace one the operator sets for
// correctness (ssl-redirect under Edge) unless the policy allows it; tuning defaults may be.
func TestOverrideNeedsPolicy(t *testing.T) {
	e := triton(func(r *exposurev1alpha1.RouterSpec) {
		r.Type = exposurev1alpha1.RouterIngress
		r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "nginx"}
		r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSEdge, SecretName: "cert"}
		r.GRPC = ptr.To(false)
		r.Annotations = map[string]string{"nginx.ingress.kubernetes.io/ssl-redirect": "false"}
	})
	in := Input{Exposure: e, Tenant: "alpha", Type: exposurev1alpha1.RouterIngress, Host: "triton.team-a." + domain, Annotations: e.Spec.Router.Annotations}
	objs, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := objs[0].GetAnnotations()["nginx.ingress.kubernetes.io/ssl-redirect"]; got != "true" {
		t.Fatalf("ssl-redirect = %q, want the operator's true", got)
	}
	if o := Overridden(in, objs); len(o) != 1 || o[0].Key != "nginx.ingress.kubernetes.io/ssl-redirect" {
		t.Fatalf("Overridden = %v", o)
	}
	in.Policy = AnnotationPolicy{Allow: []string{"nginx.ingress.kubernetes.io/ssl-redirect"}}
	objs, _ = Build(in)
	if got := objs[0].GetAnnotations()["nginx.ingress.kubernetes.io/ssl-redirect"]; got != "false" || len(Overridden(in, objs)) != 0 {
		t.Fatalf("with the policy's allow: ssl-redirect = %q", got)
	}
}
