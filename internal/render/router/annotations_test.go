package router

import (
	"slices"
	"strings"
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

// TestAnnotationValues: the default policy keeps, per controller, the shape of the values it
// puts into its configuration, and refuses the characters of its configuration syntax; the
// platform's allow lets a key's other values through.
func TestAnnotationValues(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		ok         bool
	}{
		// ingress-nginx: numbers where it writes numbers; nothing of nginx's block syntax.
		{"nginx.ingress.kubernetes.io/proxy-read-timeout", "600", true},
		{"nginx.ingress.kubernetes.io/proxy-read-timeout", "600; access_by_lua_block {}", false},
		{"nginx.ingress.kubernetes.io/proxy-body-size", "512m", true},
		{"nginx.ingress.kubernetes.io/proxy-body-size", "1g\nlocation /", false},
		{"nginx.ingress.kubernetes.io/backend-protocol", "GRPC", true},
		{"nginx.ingress.kubernetes.io/backend-protocol", "FCGI", false},
		{"nginx.ingress.kubernetes.io/rewrite-target", "/$2", true},
		{"nginx.ingress.kubernetes.io/rewrite-target", "/x; proxy_pass http://evil", false},
		{"nginx.ingress.kubernetes.io/whitelist-source-range", "10.0.0.0/8, 192.168.1.7", true},
		{"nginx.ingress.kubernetes.io/whitelist-source-range", "0.0.0.0/0 }", false},
		{"nginx.ingress.kubernetes.io/limit-rps", "50", true},
		{"nginx.ingress.kubernetes.io/limit-whitelist", "10.0.0.0/8", true},
		{"nginx.ingress.kubernetes.io/cors-allow-origin", "https://chat.example.com", true},
		{"nginx.ingress.kubernetes.io/cors-allow-origin", "x' always; add_header a 'b", false},
		{"nginx.ingress.kubernetes.io/x-forwarded-prefix", "/load_module/x", false},
		// Traefik: no reference to another provider's or namespace's object.
		{"traefik.ingress.kubernetes.io/router.entrypoints", "websecure", true},
		{"traefik.ingress.kubernetes.io/router.entrypoints", "websecure@file", false},
		{"traefik.ingress.kubernetes.io/router.priority", "100", true},
		{"traefik.ingress.kubernetes.io/service.serversscheme", "h2c", true},
		{"traefik.ingress.kubernetes.io/service.serversscheme", "gopher", false},
		// F5 NGINX.
		{"nginx.org/proxy-read-timeout", "600s", true},
		{"nginx.org/proxy-read-timeout", "600s;", false},
		{"nginx.org/grpc-services", "triton,vllm", true},
		{"nginx.org/grpc-services", "../other", false},
		{"nginx.org/proxy-buffers", "8 16k", true},
		// The OpenShift router: HAProxy time formats; its lines of words.
		{"haproxy.router.openshift.io/timeout", "10m", true},
		{"haproxy.router.openshift.io/timeout", "10m\n  http-request deny", false},
		{"haproxy.router.openshift.io/hsts_header", "max-age=31536000;includeSubDomains;preload", true},
		{"haproxy.router.openshift.io/ip_whitelist", "192.168.1.0/24 10.0.0.1", true},
		{"haproxy.router.openshift.io/ip_whitelist", "all #", false},
		{"haproxy.router.openshift.io/balance", "leastconn", true},
		// The HAProxy ingress controllers.
		{"haproxy-ingress.github.io/timeout-server", "900s", true},
		{"haproxy-ingress.github.io/timeout-server", "forever", false},
		{"haproxy.org/timeout-server", "5m", true},
		{"haproxy-ingress.github.io/backend-protocol", "h2", true},
		{"haproxy-ingress.github.io/balance-algorithm", "leastconn", true},
		{"haproxy-ingress.github.io/balance-algorithm", "leastconn\"", false},
		{"haproxy.org/allow-list", "10.0.0.0/8,192.168.0.0/16", true},
		// Any controller: no control characters.
		{"example.com/team", "a", true},
		{"example.com/team", "a\rb", false},
	} {
		applied, refused := FilterAnnotations(map[string]string{tc.key: tc.value}, AnnotationPolicy{})
		if _, got := applied[tc.key]; got != tc.ok {
			t.Errorf("%s: %q applied = %v, want %v (refused: %v)", tc.key, tc.value, got, tc.ok, refused)
		}
		if !tc.ok {
			if len(refused) != 1 || !strings.Contains(RefusalMessage(refused), "annotationPolicy.allow") {
				t.Errorf("%s: refusal %v does not say who can allow it", tc.key, refused)
			}
			// The platform's allow lets the tenant's value through as written.
			if applied, _ := FilterAnnotations(map[string]string{tc.key: tc.value}, AnnotationPolicy{Allow: []string{tc.key}}); applied[tc.key] != tc.value {
				t.Errorf("%s: allow did not let %q through", tc.key, tc.value)
			}
		}
	}
}

// FuzzAnnotationValues: by default, no applied value holds a line break, and none of
// ingress-nginx's holds a brace or a semicolon, whatever the key and value.
func FuzzAnnotationValues(f *testing.F) {
	f.Add("nginx.ingress.kubernetes.io/proxy-read-timeout", "600")
	f.Add("nginx.ingress.kubernetes.io/cors-allow-origin", "x; }")
	f.Add("haproxy.router.openshift.io/timeout", "1s\nx")
	f.Fuzz(func(t *testing.T, key, value string) {
		applied, _ := FilterAnnotations(map[string]string{key: value}, AnnotationPolicy{})
		v, ok := applied[key]
		if !ok {
			return
		}
		if strings.ContainsAny(v, "\n\r") {
			t.Fatalf("%s: a line break applied: %q", key, v)
		}
		if strings.HasPrefix(key, "nginx.ingress.kubernetes.io/") && strings.ContainsAny(v, "{};") {
			t.Fatalf("%s: nginx syntax applied: %q", key, v)
		}
	})
}
