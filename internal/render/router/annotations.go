package router

import (
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// DeniedAnnotations are the annotation keys a tenant may not set unless its InferenceTenant's
// annotationPolicy.allow names them: they inject configuration into a shared router, point it
// at Secrets or services of other namespaces, copy traffic elsewhere, or take other hosts.
// A * matches any run of characters.
var DeniedAnnotations = []string{
	// ingress-nginx
	"nginx.ingress.kubernetes.io/*snippet*",
	"nginx.ingress.kubernetes.io/auth-*",
	"nginx.ingress.kubernetes.io/global-auth-*",
	"nginx.ingress.kubernetes.io/mirror-*",
	"nginx.ingress.kubernetes.io/proxy-ssl-secret",
	"nginx.ingress.kubernetes.io/proxy-pass*",
	"nginx.ingress.kubernetes.io/upstream-vhost",
	"nginx.ingress.kubernetes.io/server-alias",
	"nginx.ingress.kubernetes.io/default-backend",
	"nginx.ingress.kubernetes.io/custom-http-errors",
	"nginx.ingress.kubernetes.io/fastcgi-*",
	"nginx.ingress.kubernetes.io/modsecurity-*",
	"nginx.ingress.kubernetes.io/stream-snippet",
	"nginx.ingress.kubernetes.io/canary*",            // takes another Ingress's host, all of it at weight 100
	"nginx.ingress.kubernetes.io/enable-global-auth", // turns the platform's global auth off
	"nginx.ingress.kubernetes.io/*-redirect",         // sends a host's clients elsewhere
	"nginx.ingress.kubernetes.io/custom-headers",     // reads a ConfigMap by namespace/name
	// Traefik: these name an object as <namespace>-<name>@kubernetescrd, any namespace's
	"traefik.ingress.kubernetes.io/router.middlewares",
	"traefik.ingress.kubernetes.io/service.serverstransport",
	"traefik.ingress.kubernetes.io/router.tls.options",
	// F5 NGINX Ingress Controller
	"nginx.org/mergeable-ingress-type", // a minion joins any master of its host, another namespace's too
	"nginx.org/listen-ports*",          // makes the shared controller listen on other ports
	"nginx.org/*-secret",               // names a Secret the controller reads for the host
	// OpenShift router
	"haproxy.router.openshift.io/*snippet*",
	"route.openshift.io/destination-ca-certificate-secret",
	"router.openshift.io/*",
	// HAProxy ingress controllers (haproxytech and jcmoraisjr)
	"haproxy.org/*snippet*",
	"haproxy.org/auth-*",
	"haproxy.org/*-ca",
	"haproxy.org/ssl-certificate",
	"haproxy.org/backend-config*",
	"haproxy.org/frontend-config*",
	"haproxy-ingress.github.io/config-*",
	"haproxy-ingress.github.io/auth-*",
	"haproxy-ingress.github.io/*-secret",
	"ingress.kubernetes.io/config-*",
	"ingress.kubernetes.io/auth-*",
	// any controller
	"*snippet*",
}

// AnnotationPolicy decides which of router.annotations are applied.
type AnnotationPolicy struct {
	// Allow widens: keys matching it are applied even when denied by default, and may
	// override an annotation the operator sets.
	Allow []string
	// Deny narrows: keys matching it are refused too.
	Deny []string
}

// PolicyFor is a tenant's annotation policy.
func PolicyFor(t *exposurev1alpha1.InferenceTenant) AnnotationPolicy {
	if p := t.Spec.AnnotationPolicy; p != nil {
		return AnnotationPolicy{Allow: p.Allow, Deny: p.Deny}
	}
	return AnnotationPolicy{}
}

// allowedExplicitly reports whether the tenant's policy names key.
func (p AnnotationPolicy) allowedExplicitly(key string) bool { return matchAny(p.Allow, key) }

// Refusal is an annotation key that was not applied, and why.
type Refusal struct {
	Key, Why string
}

// FilterAnnotations splits the requested annotations into the ones applied and the refused.
func FilterAnnotations(requested map[string]string, p AnnotationPolicy) (map[string]string, []Refusal) {
	out := map[string]string{}
	var refused []Refusal
	for k, v := range requested {
		switch {
		case p.allowedExplicitly(k):
			out[k] = v
		case matchAny(p.Deny, k):
			refused = append(refused, Refusal{k, "denied by the tenant's annotationPolicy"})
		case matchAny(DeniedAnnotations, k):
			refused = append(refused, Refusal{k, "denied by default: only the platform team can allow it (InferenceTenant spec.annotationPolicy.allow)"})
		default:
			out[k] = v
		}
	}
	sort.Slice(refused, func(i, j int) bool { return refused[i].Key < refused[j].Key })
	return out, refused
}

// Overridden lists the applied annotations that the built objects do not carry as asked: the
// operator sets them for correctness (e.g. ssl-redirect under Edge) and the tenant's policy
// does not allow overriding them.
func Overridden(in Input, objs []client.Object) []Refusal {
	seen := map[string]bool{}
	var out []Refusal
	for _, o := range objs {
		ann := o.GetAnnotations()
		for k, v := range in.Annotations {
			if got, ok := ann[k]; ok && got != v && !seen[k] {
				seen[k] = true
				out = append(out, Refusal{k, fmt.Sprintf("the operator sets it to %q for correctness; the tenant's annotationPolicy.allow must name it to override", got)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// RefusalMessage explains refused keys in one sentence.
func RefusalMessage(refused []Refusal) string {
	parts := make([]string, len(refused))
	for i, r := range refused {
		parts[i] = fmt.Sprintf("%s (%s)", r.Key, r.Why)
	}
	return "router.annotations not applied: " + strings.Join(parts, "; ") + "; the other annotations are applied"
}

func matchAny(patterns []string, key string) bool {
	for _, p := range patterns {
		if glob(p, key) {
			return true
		}
	}
	return false
}

// glob matches s against a pattern in which * stands for any run of characters (slashes too).
func glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	last := parts[len(parts)-1]
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
