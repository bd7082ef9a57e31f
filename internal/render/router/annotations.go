package router

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// annotationDialect is what one controller reads from annotations and what of it a tenant may
// write by default: the keys it refuses, the characters no value may hold (the controller's
// own configuration syntax, through which a value could inject more), and, for the keys whose
// values it puts into its configuration, the shape a value must have.
type annotationDialect struct {
	controller string
	// prefixes are the key prefixes the controller reads.
	prefixes []string
	// denied are key patterns refused by default: * matches any run of characters.
	denied []string
	// forbidden are the characters and words no value of its keys may hold.
	forbidden []string
	// values are the shapes of the values of some keys.
	values []valueRule
}

// valueRule: the values of keys matching keys must match pattern (what says it in words).
type valueRule struct {
	keys    string
	pattern *regexp.Regexp
	what    string
}

func rule(keys, pattern, what string) valueRule {
	return valueRule{keys, regexp.MustCompile(pattern), what}
}

// Value shapes shared by several controllers.
const (
	seconds      = `^[0-9]{1,7}$`
	haproxyTime  = `^[0-9]{1,9}(us|ms|s|m|h|d)?$`
	nginxTime    = `^[0-9]{1,7}(ms|s|m|h|d)?$`
	size         = `^[0-9]{1,10}[kKmMgG]?$`
	boolean      = `^(true|false)$`
	onOff        = `^(on|off)$`
	cidrList     = `^[0-9a-fA-F.:/]+([ ,]+[0-9a-fA-F.:/]+)*$`
	nameList     = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(,[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	urlPath      = `^/[A-Za-z0-9/._~%$()^*+?|\[\]-]*$`
	entrypoints  = `^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$`
	nginxControl = "{};'\"\\`"
)

// annotationDialects is the default annotation policy, kept per controller.
var annotationDialects = []annotationDialect{
	{
		controller: "ingress-nginx (and Traefik's ingress-nginx provider)",
		prefixes:   []string{"nginx.ingress.kubernetes.io/"},
		denied: []string{
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
		},
		// nginx's block and string syntax, and the words of its Lua and module directives.
		forbidden: append(strings.Split(nginxControl, ""), "_by_lua", "lua_package", "load_module", "proxy_pass", "serviceaccount"),
		values: []valueRule{
			rule("nginx.ingress.kubernetes.io/proxy-*-timeout", seconds, "a number of seconds"),
			rule("nginx.ingress.kubernetes.io/proxy-body-size", size, "a size such as 64m"),
			rule("nginx.ingress.kubernetes.io/client-body-buffer-size", size, "a size such as 64k"),
			rule("nginx.ingress.kubernetes.io/proxy-buffer*-size", size, "a size such as 8k"),
			rule("nginx.ingress.kubernetes.io/proxy-*buffering", onOff, "on or off"),
			rule("nginx.ingress.kubernetes.io/backend-protocol", `^(HTTP|HTTPS|GRPC|GRPCS)$`, "HTTP, HTTPS, GRPC or GRPCS"),
			rule("nginx.ingress.kubernetes.io/*-source-range", cidrList, "addresses or CIDRs, comma-separated"),
			rule("nginx.ingress.kubernetes.io/limit-r*", `^[0-9]{1,9}$`, "a number"),
			rule("nginx.ingress.kubernetes.io/limit-connections", `^[0-9]{1,9}$`, "a number"),
			rule("nginx.ingress.kubernetes.io/limit-burst-multiplier", `^[0-9]{1,9}$`, "a number"),
			rule("nginx.ingress.kubernetes.io/limit-*list", cidrList, "addresses or CIDRs, comma-separated"),
			rule("nginx.ingress.kubernetes.io/rewrite-target", urlPath, "a path, with $1-style captures"),
			rule("nginx.ingress.kubernetes.io/use-regex", boolean, "true or false"),
			rule("nginx.ingress.kubernetes.io/enable-*", boolean, "true or false"),
			rule("nginx.ingress.kubernetes.io/ssl-passthrough", boolean, "true or false"),
		},
	},
	{
		controller: "Traefik",
		prefixes:   []string{"traefik.ingress.kubernetes.io/"},
		// These name an object as <namespace>-<name>@kubernetescrd, any namespace's.
		denied: []string{
			"traefik.ingress.kubernetes.io/router.middlewares",
			"traefik.ingress.kubernetes.io/service.serverstransport",
			"traefik.ingress.kubernetes.io/router.tls.options",
		},
		// @ names an object of another provider or namespace.
		forbidden: []string{"@"},
		values: []valueRule{
			rule("traefik.ingress.kubernetes.io/router.entrypoints", entrypoints, "entrypoint names, comma-separated"),
			rule("traefik.ingress.kubernetes.io/router.priority", `^-?[0-9]{1,9}$`, "a number"),
			rule("traefik.ingress.kubernetes.io/router.tls", boolean, "true or false"),
			rule("traefik.ingress.kubernetes.io/service.serversscheme", `^(http|https|h2c)$`, "http, https or h2c"),
			rule("traefik.ingress.kubernetes.io/service.passhostheader", boolean, "true or false"),
			rule("traefik.ingress.kubernetes.io/service.sticky.cookie", boolean, "true or false"),
		},
	},
	{
		controller: "F5 NGINX Ingress Controller",
		prefixes:   []string{"nginx.org/", "nginx.com/"},
		denied: []string{
			"nginx.org/mergeable-ingress-type", // a minion joins any master of its host, another namespace's too
			"nginx.org/listen-ports*",          // makes the shared controller listen on other ports
			"nginx.org/*-secret",               // names a Secret the controller reads for the host
			"nginx.com/*",                      // NGINX Plus: JWT keys, health checks by Secret
		},
		forbidden: strings.Split(nginxControl, ""),
		values: []valueRule{
			rule("nginx.org/proxy-*-timeout", nginxTime, "a time such as 60s"),
			rule("nginx.org/client-max-body-size", size, "a size such as 64m"),
			rule("nginx.org/proxy-buffer*", `^(true|false|[0-9]{1,3} [0-9]{1,6}[kKmM]?|[0-9]{1,6}[kKmM]?)$`, "true, false or a size"),
			rule("nginx.org/*-services", nameList, "Service names, comma-separated"),
			rule("nginx.org/redirect-to-https", boolean, "true or false"),
			rule("nginx.org/rewrites", `^serviceName=[a-z0-9-]+ rewrite=/[A-Za-z0-9/._~-]*(;serviceName=[a-z0-9-]+ rewrite=/[A-Za-z0-9/._~-]*)*$`, "serviceName=<name> rewrite=<path>"),
		},
	},
	{
		controller: "the OpenShift router",
		prefixes:   []string{"haproxy.router.openshift.io/", "router.openshift.io/", "route.openshift.io/"},
		denied: []string{
			"haproxy.router.openshift.io/*snippet*",
			"route.openshift.io/destination-ca-certificate-secret",
			"router.openshift.io/*",
		},
		// HAProxy's configuration is lines of words: a quote or a backslash could end a word.
		forbidden: []string{"\"", "\\", "#"},
		values: []valueRule{
			rule("haproxy.router.openshift.io/timeout*", haproxyTime, "a time such as 300s"),
			rule("haproxy.router.openshift.io/balance", `^(roundrobin|leastconn|source|random)$`, "roundrobin, leastconn, source or random"),
			rule("haproxy.router.openshift.io/ip_*list", `^[0-9a-fA-F.:/]+( +[0-9a-fA-F.:/]+)*$`, "addresses or CIDRs, space-separated"),
			rule("haproxy.router.openshift.io/disable_cookies", boolean, "true or false"),
			rule("haproxy.router.openshift.io/rate-limit-connections*", `^(true|false|[0-9]{1,9})$`, "true, false or a number"),
			rule("haproxy.router.openshift.io/hsts_header", `^max-age=[0-9]{1,10}( *; *(includeSubDomains|preload))*$`, "max-age=<seconds>[;includeSubDomains][;preload]"),
		},
	},
	{
		controller: "the HAProxy ingress controllers (HAProxy Ingress, HAProxy Technologies')",
		prefixes:   []string{"haproxy-ingress.github.io/", "haproxy.org/", "haproxy.com/", "ingress.kubernetes.io/"},
		denied: []string{
			"haproxy.org/*snippet*",
			"haproxy.org/auth-*",
			"haproxy.org/*-ca",
			"haproxy.org/server-crt",
			"haproxy.org/ssl-certificate",
			"haproxy.org/set-host",
			"haproxy.org/route-acl",
			"haproxy.org/backend-config*",
			"haproxy.org/frontend-config*",
			"haproxy.com/*",
			"haproxy-ingress.github.io/config-*",
			"haproxy-ingress.github.io/auth-*",
			"haproxy-ingress.github.io/*-secret",
			"haproxy-ingress.github.io/server-alias*",
			"haproxy-ingress.github.io/redirect-from*",
			"haproxy-ingress.github.io/cert-signer",
			"ingress.kubernetes.io/config-*",
			"ingress.kubernetes.io/auth-*",
			"ingress.kubernetes.io/*-secret",
			"ingress.kubernetes.io/server-alias*",
		},
		forbidden: []string{"\"", "\\", "#"},
		values: []valueRule{
			rule("haproxy*/timeout-*", haproxyTime, "a time such as 300s"),
			rule("haproxy-ingress.github.io/proxy-body-size", `^([0-9]{1,12}[kKmMgG]?|unlimited)$`, "a size in bytes"),
			rule("haproxy*/ssl-redirect", boolean, "true or false"),
			rule("haproxy-ingress.github.io/backend-protocol", `^(h1|h2|h1-ssl|h2-ssl)$`, "h1, h2, h1-ssl or h2-ssl"),
			rule("haproxy.org/server-proto", `^h2$`, "h2"),
			rule("haproxy*/*list*", cidrList, "addresses or CIDRs, comma-separated"),
		},
	},
}

// DeniedAnnotations are the annotation keys a tenant may not set unless its InferenceTenant's
// annotationPolicy.allow names them: they inject configuration into a shared router, point it
// at Secrets or services of other namespaces, copy traffic elsewhere, or take other hosts.
// A * matches any run of characters.
var DeniedAnnotations = deniedAnnotations()

func deniedAnnotations() []string {
	var out []string
	for _, d := range annotationDialects {
		out = append(out, d.denied...)
	}
	return append(out, "*snippet*") // any controller's
}

// valueRefusal says why a value may not be applied by default ("" when it may): a character or
// word of the controller's configuration syntax, a control character, or a value of the wrong
// shape for a key the controller puts into its configuration.
func valueRefusal(key, value string) string {
	for _, r := range value {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return "its value holds a control character (a line break could start a new directive)"
		}
	}
	for _, d := range annotationDialects {
		if !hasAnyPrefix(key, d.prefixes) {
			continue
		}
		for _, f := range d.forbidden {
			if strings.Contains(value, f) {
				return fmt.Sprintf("its value holds %q, which %s reads as configuration syntax", f, d.controller)
			}
		}
		for _, v := range d.values {
			if glob(v.keys, key) && !v.pattern.MatchString(value) {
				return fmt.Sprintf("%s takes %s here, not %q", d.controller, v.what, value)
			}
		}
	}
	return ""
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
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
			refused = append(refused, Refusal{k, "denied by default"})
		case valueRefusal(k, v) != "":
			refused = append(refused, Refusal{k, valueRefusal(k, v)})
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
				out = append(out, Refusal{k, fmt.Sprintf("the operator sets it to %q for correctness", got)})
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
	return "router.annotations not applied: " + strings.Join(parts, "; ") +
		"; the other annotations are applied. Only the platform team can allow these keys, with any value, per tenant (InferenceTenant spec.annotationPolicy.allow)"
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
