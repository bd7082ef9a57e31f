// Package router builds an exposure's routing objects: Ingresses, OpenShift Routes and the
// Gateway API's HTTPRoutes, GRPCRoutes, TLSRoutes and BackendTLSPolicies. One file per kind,
// each registered as a Kind (kinds.go); every function is pure.
package router

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render"
)

// DefaultTimeout applies when spec.router.timeout is empty.
const DefaultTimeout = "300s"

// NoLimit is what "timeout: 0" becomes on routers that need a number.
const NoLimit = 24 * time.Hour

// Error is a routing decision the user has to change the spec for.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return e.Message }

func errorf(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// TLSCertificate is a certificate copied from a Secret for inline Routes.
type TLSCertificate struct {
	Certificate, Key, CACertificate string
}

// Input is everything the builders need: the exposure and the decisions made about it.
type Input struct {
	Exposure *exposurev1alpha1.InferenceExposure
	Tenant   string
	// Type is the resolved router type (never Auto).
	Type exposurev1alpha1.RouterType
	// Host and GRPCHost come from Hosts.
	Host, GRPCHost string
	// IngressController is the spec.controller of the Ingress's IngressClass, which decides
	// the annotations (FlavourOf); "" while the class is not known, when its name decides.
	IngressController string
	// GatewayPolicies: the Gateway's implementation is Envoy Gateway and its
	// BackendTrafficPolicy API is served, so the timeouts the standard routes cannot hold go
	// into one.
	GatewayPolicies bool
	// InferencePools: the cluster serves the InferencePool API, so an exposure that asks for
	// router.inferencePool gets its pools.
	InferencePools bool
	// EndpointPicker is the tenant's default endpoint picker (spec.endpointPicker).
	EndpointPicker *exposurev1alpha1.EndpointPicker
	// Inline holds the Secret's certificate when spec.router.tls.inline is set.
	Inline *TLSCertificate
	// Annotations are the router.annotations the tenant's policy lets through
	// (FilterAnnotations); nil means all of router.annotations (tests, tools).
	Annotations map[string]string
	// Policy is the tenant's annotation policy: whether an annotation may override one the
	// operator sets.
	Policy AnnotationPolicy
}

// RoutesHTTP reports whether the exposure routes its http port.
func RoutesHTTP(exp *exposurev1alpha1.InferenceExposure) bool {
	return exp.Spec.Router != nil && exp.Spec.Ports.HTTP != nil
}

// RoutesGRPC reports whether the exposure routes its grpc port.
func RoutesGRPC(exp *exposurev1alpha1.InferenceExposure) bool {
	r := exp.Spec.Router
	return r != nil && r.GRPC != nil && *r.GRPC && exp.Spec.Ports.GRPC != nil
}

// Termination is the TLS termination in use; Edge by default.
func Termination(exp *exposurev1alpha1.InferenceExposure) exposurev1alpha1.TLSTermination {
	if r := exp.Spec.Router; r != nil && r.TLS != nil && r.TLS.Termination != "" {
		return r.TLS.Termination
	}
	return exposurev1alpha1.TLSEdge
}

// SecretName is the TLS Secret named by the spec, if any.
func SecretName(exp *exposurev1alpha1.InferenceExposure) string {
	if r := exp.Spec.Router; r != nil && r.TLS != nil {
		return r.TLS.SecretName
	}
	return ""
}

// Paths are the routed path prefixes; [/] by default.
func Paths(exp *exposurev1alpha1.InferenceExposure) []string {
	r := exp.Spec.Router
	if r == nil || len(r.Paths) == 0 {
		return []string{"/"}
	}
	out := make([]string, len(r.Paths))
	for i, p := range r.Paths {
		out[i] = string(p)
	}
	return out
}

// HostPolicy is what a tenant lets its exposures route: hosts under Domain, the hosts the
// platform Granted, and with AnyHost any explicit host; never a host under another tenant's
// domain that is more specific than the tenant's own (Others).
type HostPolicy struct {
	Domain  string
	AnyHost bool
	// Granted are the tenant's allowedHosts: exact hosts, or "*.d" for every host under d.
	Granted []string
	// Others are the other tenants' hostDomains. A host belongs to the tenant with the most
	// specific domain that holds it.
	Others []string
}

// PolicyOf is the host policy of a tenant among tenants with the given host domains (its own
// may be among them: it is left out).
func PolicyOf(t *exposurev1alpha1.InferenceTenant, domains []string) HostPolicy {
	p := HostPolicy{Domain: t.Spec.HostDomain, AnyHost: t.Spec.AllowAnyHost, Granted: t.Spec.AllowedHosts}
	for _, d := range domains {
		if d != "" && d != p.Domain {
			p.Others = append(p.Others, d)
		}
	}
	return p
}

// Grants reports whether the platform granted the tenant host by name (allowedHosts): such a
// host may lie outside Domain, and may be one that a routing object the operator did not make
// already serves.
func (p HostPolicy) Grants(host string) bool {
	for _, g := range p.Granted {
		if d, ok := strings.CutPrefix(g, "*."); ok {
			if strings.HasSuffix(host, "."+d) {
				return true
			}
		} else if host == g {
			return true
		}
	}
	return false
}

// Allows reports whether the tenant may route host at all: one the platform granted, or one
// under its hostDomain (any host with AnyHost) that no other tenant's domain takes.
func (p HostPolicy) Allows(host string) bool {
	if p.Grants(host) {
		return !p.foreign(host)
	}
	return (p.AnyHost || under(host, p.Domain)) && !p.foreign(host)
}

// RoutedHosts are the hosts an exposure's routing objects serve, from its status.
func RoutedHosts(status *exposurev1alpha1.InferenceExposureStatus) []string {
	var out []string
	if u, err := url.Parse(status.URL); err == nil && u.Hostname() != "" {
		out = append(out, u.Hostname())
	}
	if h, _, err := net.SplitHostPort(status.GRPCAddress); err == nil && h != "" {
		out = append(out, h)
	}
	return out
}

// under reports whether host lies under domain (or is the domain).
func under(host, domain string) bool {
	return domain != "" && (host == domain || strings.HasSuffix(host, "."+domain))
}

// foreign reports whether host belongs to another tenant: a domain of another tenant that holds
// it is more specific than the tenant's own.
func (p HostPolicy) foreign(host string) bool {
	own := -1
	if under(host, p.Domain) {
		own = len(p.Domain)
	}
	for _, d := range p.Others {
		if len(d) > own && under(host, d) {
			return true
		}
	}
	return false
}

// Hosts returns the HTTPS host and the gRPC host. The default host is
// <name>.<namespace>.<domain>; an explicit one must lie under the domain unless the tenant
// allows any host, and a tenant without a domain allows explicit hosts only then. Every label is
// checked here, before anything is created.
func Hosts(exp *exposurev1alpha1.InferenceExposure, p HostPolicy) (host, grpcHost string, err error) {
	r := exp.Spec.Router
	if r == nil {
		return "", "", nil
	}
	hostDomain := p.Domain
	outside := func(field, h string) error {
		if p.AnyHost || p.Grants(h) {
			return nil
		}
		if hostDomain == "" {
			return errorf(exposurev1alpha1.ReasonHostInvalid,
				"router.%s %q: the tenant has no spec.hostDomain and does not allow explicit hosts: ask the platform team for a hostDomain, for the host in spec.allowedHosts or for spec.allowAnyHost, or drop router.%s", field, h, field)
		}
		if !strings.HasSuffix(h, "."+hostDomain) {
			return errorf(exposurev1alpha1.ReasonHostInvalid,
				"router.%s %q is not under the tenant's hostDomain %q: use a host ending in .%s, or ask the platform team to add it to the tenant's spec.allowedHosts", field, h, hostDomain, hostDomain)
		}
		return nil
	}
	taken := func(field, h string) error {
		if p.foreign(h) {
			return errorf(exposurev1alpha1.ReasonHostConflict,
				"router.%s %q lies under a more specific domain that belongs to another tenant: use a host under %s outside it", field, h, orAny(hostDomain))
		}
		return nil
	}
	host = string(r.Host)
	switch {
	case host == "" && hostDomain == "":
		return "", "", errorf(exposurev1alpha1.ReasonHostMissing,
			"router.host is not set and tenant has no spec.hostDomain: set one of them")
	case host == "":
		host = exp.Name + "." + exp.Namespace + "." + hostDomain
	default:
		if err := outside("host", host); err != nil {
			return "", "", err
		}
	}
	if err := checkHost(host, "host"); err != nil {
		return "", "", err
	}
	if err := taken("host", host); err != nil {
		return "", "", err
	}
	if !RoutesGRPC(exp) {
		return host, "", nil
	}
	grpcHost = string(r.GRPCHost)
	if grpcHost == "" {
		first, rest, _ := strings.Cut(host, ".")
		grpcHost = first + "-grpc"
		if rest != "" {
			grpcHost += "." + rest
		}
	} else if err := outside("grpcHost", grpcHost); err != nil {
		return "", "", err
	}
	if err := checkHost(grpcHost, "grpcHost"); err != nil {
		return "", "", err
	}
	if err := taken("grpcHost", grpcHost); err != nil {
		return "", "", err
	}
	return host, grpcHost, nil
}

func orAny(domain string) string {
	if domain == "" {
		return "your own domains"
	}
	return domain
}

func checkHost(host, field string) error {
	for _, label := range strings.Split(host, ".") {
		if len(label) > validation.DNS1123LabelMaxLength {
			return errorf(exposurev1alpha1.ReasonHostInvalid,
				"%s %q has the label %q of %d characters; DNS allows 63: shorten the exposure or namespace name, or set router.%s", field, host, label, len(label), field)
		}
	}
	if errs := validation.IsDNS1123Subdomain(host); len(errs) > 0 {
		return errorf(exposurev1alpha1.ReasonHostInvalid, "%s %q is not a valid DNS name: %s", field, host, strings.Join(errs, "; "))
	}
	return nil
}

// IdleTimeout is how long a request or stream may stay silent: spec.router.timeouts.idle, else
// the former spec.router.timeout, else DefaultTimeout; zero means no limit.
func IdleTimeout(exp *exposurev1alpha1.InferenceExposure) time.Duration {
	s := exposurev1alpha1.Duration(DefaultTimeout)
	if r := exp.Spec.Router; r != nil {
		switch {
		case r.Timeouts != nil && r.Timeouts.Idle != "":
			s = r.Timeouts.Idle
		case r.Timeout != "":
			s = r.Timeout
		}
	}
	return parseDuration(s)
}

// RequestTimeout is the deadline of a whole request and its response,
// spec.router.timeouts.request; zero (the default) means none.
func RequestTimeout(exp *exposurev1alpha1.InferenceExposure) time.Duration {
	if r := exp.Spec.Router; r != nil && r.Timeouts != nil && r.Timeouts.Request != "" {
		return parseDuration(r.Timeouts.Request)
	}
	return 0
}

func parseDuration(s exposurev1alpha1.Duration) time.Duration {
	if s == "0" {
		return 0
	}
	d, err := time.ParseDuration(string(s))
	if err != nil { // the schema's pattern makes this unreachable
		d, _ = time.ParseDuration(DefaultTimeout)
	}
	return d
}

// idleSeconds is the idle timeout in whole seconds (rounded up), NoLimit for zero.
func idleSeconds(exp *exposurev1alpha1.InferenceExposure) string {
	d := IdleTimeout(exp)
	if d == 0 {
		d = NoLimit
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// URL is the https URL of the first path.
func URL(in Input) string {
	if in.Host == "" || !RoutesHTTP(in.Exposure) {
		return ""
	}
	return "https://" + in.Host + Paths(in.Exposure)[0]
}

// GRPCAddress is host:443 of the gRPC route.
func GRPCAddress(in Input) string {
	if in.GRPCHost == "" {
		return ""
	}
	return in.GRPCHost + ":443"
}

// Needs are the kinds the router type writes for the exposure: the cluster must serve each.
func Needs(t exposurev1alpha1.RouterType, exp *exposurev1alpha1.InferenceExposure) []schema.GroupVersionKind {
	switch t {
	case exposurev1alpha1.RouterIngress:
		return []schema.GroupVersionKind{IngressGVK}
	case exposurev1alpha1.RouterRoute:
		return []schema.GroupVersionKind{RouteGVK}
	case exposurev1alpha1.RouterGateway:
		if Termination(exp) == exposurev1alpha1.TLSPassthrough {
			return []schema.GroupVersionKind{TLSRouteGVK}
		}
		var out []schema.GroupVersionKind
		if RoutesHTTP(exp) {
			out = append(out, HTTPRouteGVK)
		}
		if RoutesGRPC(exp) {
			out = append(out, GRPCRouteGVK)
		}
		if Termination(exp) == exposurev1alpha1.TLSReencrypt {
			out = append(out, BackendTLSPolicyGVK)
		}
		return out
	}
	return nil
}

// Build returns the routing objects of the resolved type, in a fixed order.
func Build(in Input) ([]client.Object, error) {
	switch in.Type {
	case exposurev1alpha1.RouterIngress:
		return Ingresses(in)
	case exposurev1alpha1.RouterRoute:
		return Routes(in)
	case exposurev1alpha1.RouterGateway:
		return GatewayRoutes(in)
	default:
		return nil, nil
	}
}

// tuning are the operator's annotations that are only a default a tenant may change; every
// other one follows from the spec (timeouts, body size, TLS, the gRPC protocol) and is kept.
var tuning = map[string]bool{RouteBalance: true}

// objectMeta is the metadata every routing object carries. annotations are the operator's
// defaults; the user's router.annotations override them. The objects are written with
// server-side apply, so a key that leaves the spec leaves the object, and others' keys stay.
func objectMeta(in Input, name string, defaults map[string]string) metav1.ObjectMeta {
	ann := map[string]string{}
	for k, v := range defaults {
		ann[k] = v
	}
	requested := in.Annotations
	if requested == nil && in.Exposure.Spec.Router != nil {
		requested = in.Exposure.Spec.Router.Annotations
	}
	for k, v := range requested {
		if _, set := defaults[k]; set && !tuning[k] && !in.Policy.allowedExplicitly(k) {
			continue // the operator's value, set for correctness (see Overridden)
		}
		ann[k] = v
	}
	m := metav1.ObjectMeta{
		Name:            name,
		Namespace:       in.Exposure.Namespace,
		Labels:          render.ChildLabels(in.Exposure, in.Tenant),
		OwnerReferences: []metav1.OwnerReference{render.OwnerReference(in.Exposure)},
	}
	if len(ann) > 0 {
		m.Annotations = ann
	}
	return m
}

// backends are the Services the routes send to, with weights; the exposure's own
// Service with weight 100 unless spec.router.backends overrides it.
func backends(exp *exposurev1alpha1.InferenceExposure) []exposurev1alpha1.Backend {
	if r := exp.Spec.Router; r != nil && len(r.Backends) > 0 {
		return r.Backends
	}
	return []exposurev1alpha1.Backend{{Name: exp.Name, Weight: 100}}
}

// GRPCName is the name of the objects that route the grpc port on Ingress and Route.
func GRPCName(exp *exposurev1alpha1.InferenceExposure) string { return exp.Name + "-grpc" }

// Keys lists object keys as Kind/name for status, sorted.
func Keys(objs []client.Object) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
	}
	sort.Strings(out)
	return out
}
