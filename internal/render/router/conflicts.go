package router

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	routev1 "github.com/openshift/api/route/v1"
)

// Claim is a host and path prefix an exposure routes. A gRPC route claims its whole host
// (Path empty).
type Claim struct {
	Host, Path string
}

func (c Claim) String() string {
	if c.Path == "" {
		return c.Host
	}
	return c.Host + c.Path
}

// Claimant is one exposure with the claims it makes.
type Claimant struct {
	Key     types.NamespacedName
	Created metav1.Time
	Claims  []Claim
}

// Claims lists what an exposure with the given hosts routes.
func Claims(in Input) []Claim {
	var out []Claim
	if in.Host != "" && RoutesHTTP(in.Exposure) {
		for _, p := range Paths(in.Exposure) {
			out = append(out, Claim{Host: in.Host, Path: p})
		}
	}
	if in.GRPCHost != "" {
		out = append(out, Claim{Host: in.GRPCHost})
	}
	return out
}

// Conflict says which earlier exposure holds a claim.
type Conflict struct {
	Claim  Claim
	Holder types.NamespacedName
	// OtherNamespace: the host belongs to the holder's namespace, whatever the path.
	OtherNamespace bool
}

// Conflicts decides who keeps each host and path: the oldest exposure (then namespace/name),
// so the answer is the same after a restart. A host belongs to the namespace of the oldest
// exposure routing it: exposures of that namespace may split it by path, no other namespace
// may route any path on it. A gRPC claim on a host conflicts with any claim on that host. It returns, for every exposure that loses, the first claim it lost.
func Conflicts(all []Claimant) map[types.NamespacedName]Conflict {
	order := append([]Claimant(nil), all...)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if !a.Created.Equal(&b.Created) {
			return a.Created.Before(&b.Created)
		}
		if a.Key.Namespace != b.Key.Namespace {
			return a.Key.Namespace < b.Key.Namespace
		}
		return a.Key.Name < b.Key.Name
	})
	n := 0
	for _, c := range order {
		n += len(c.Claims)
	}
	held := make(map[Claim]types.NamespacedName, n)
	hostHolder := make(map[string]types.NamespacedName, n) // any claim on the host
	wholeHost := map[string]types.NamespacedName{}         // gRPC claims
	out := map[types.NamespacedName]Conflict{}
	for _, c := range order {
		lost := false
		for _, cl := range c.Claims {
			// A host belongs to the namespace of its oldest exposure: no other namespace may
			// route any path on it (the OpenShift router's rule for Routes).
			if first, ok := hostHolder[cl.Host]; ok && first.Namespace != c.Key.Namespace {
				out[c.Key] = Conflict{Claim: cl, Holder: first, OtherNamespace: true}
				lost = true
				break
			}
			var holder types.NamespacedName
			var ok bool
			if holder, ok = wholeHost[cl.Host]; !ok || holder == c.Key {
				if cl.Path == "" {
					holder, ok = hostHolder[cl.Host]
				} else {
					holder, ok = held[cl]
				}
			}
			if ok && holder != c.Key {
				out[c.Key] = Conflict{Claim: cl, Holder: holder}
				lost = true
				break
			}
		}
		if lost {
			continue
		}
		for _, cl := range c.Claims {
			held[cl] = c.Key
			if _, ok := hostHolder[cl.Host]; !ok {
				hostHolder[cl.Host] = c.Key
			}
			if cl.Path == "" {
				wholeHost[cl.Host] = c.Key
			}
		}
	}
	return out
}

// Message explains a conflict to the exposure that lost it.
func (c Conflict) Message() string {
	if c.OtherNamespace {
		// The other namespace may be another tenant's: its objects are not named.
		return fmt.Sprintf("host %s is already routed from another namespace (the oldest exposure on a host keeps it, and no other namespace may route any path on it): choose another router.host; nothing is routed for this exposure until then", c.Claim.Host)
	}
	return fmt.Sprintf("%s is already routed by InferenceExposure %s (the older one keeps it): choose another router.host or path; nothing is routed for this exposure until then", c.Claim, c.Holder)
}

// HostKeys are keys under which an exposure's hosts can be found without knowing its tenant's
// hostDomain: the first two labels of each host. A default host is <name>.<namespace>.<domain>
// and its gRPC host <name>-grpc.<namespace>.<domain>, so two exposures that can route the same
// host always share a key. Used to index exposures, so that a host conflict is decided among
// the few exposures that share a key instead of all of them.
func HostKeys(exp *exposurev1alpha1.InferenceExposure) []string {
	r := exp.Spec.Router
	if r == nil || r.Type == exposurev1alpha1.RouterNone || !exp.DeletionTimestamp.IsZero() {
		return nil
	}
	host := string(r.Host)
	if host == "" {
		host = exp.Name + "." + exp.Namespace
	}
	out := []string{hostKey(host)}
	if RoutesGRPC(exp) {
		grpcHost := string(r.GRPCHost)
		if grpcHost == "" {
			first, rest, _ := strings.Cut(host, ".")
			grpcHost = first + "-grpc"
			if rest != "" {
				grpcHost += "." + rest
			}
		}
		if k := hostKey(grpcHost); k != out[0] {
			out = append(out, k)
		}
	}
	return out
}

// ExplicitHostKeys are the HostKeys of the hosts an exposure sets itself (router.host,
// router.grpcHost, and the gRPC host derived from router.host). Only these are indexed: a
// default host's key <name>.<namespace> names its exposure, which DefaultHostOwners finds
// without an index (an entry per exposure would cost memory for nothing).
func ExplicitHostKeys(exp *exposurev1alpha1.InferenceExposure) []string {
	r := exp.Spec.Router
	if r == nil || r.Host == "" && r.GRPCHost == "" {
		return nil
	}
	var out []string
	for _, k := range HostKeys(exp) {
		if !slices.Contains(DefaultHostOwners(k), types.NamespacedName{Namespace: exp.Namespace, Name: exp.Name}) {
			out = append(out, k)
		}
	}
	return out
}

// DefaultHostOwners are the exposures whose default hosts have the host key k: the exposure
// <name> in <namespace> for "<name>.<namespace>" (its HTTPS host), and for
// "<name>-grpc.<namespace>" also the exposure <name> (its gRPC host).
func DefaultHostOwners(k string) []types.NamespacedName {
	name, ns, ok := strings.Cut(k, ".")
	if !ok || name == "" || ns == "" {
		return nil
	}
	out := []types.NamespacedName{{Namespace: ns, Name: name}}
	if base, ok := strings.CutSuffix(name, "-grpc"); ok && base != "" {
		out = append(out, types.NamespacedName{Namespace: ns, Name: base})
	}
	return out
}

// hostKey is the first two labels of a host (the whole host when it has fewer).
func hostKey(host string) string {
	first, rest, ok := strings.Cut(host, ".")
	if !ok {
		return host
	}
	second, _, _ := strings.Cut(rest, ".")
	return first + "." + second
}

// HostKeyOf is the key a host is indexed under (see HostKeys).
func HostKeyOf(host string) string { return hostKey(host) }

// ServedHosts are the hosts a routing object of any kind serves: an Ingress's rules and TLS
// hosts, a Route's host, a Gateway route's hostnames. Wildcards are left out: they claim no
// one host.
func ServedHosts(o client.Object) []string {
	var hosts []string
	switch x := o.(type) {
	case *networkingv1.Ingress:
		for _, r := range x.Spec.Rules {
			hosts = append(hosts, r.Host)
		}
		for _, t := range x.Spec.TLS {
			hosts = append(hosts, t.Hosts...)
		}
	case *routev1.Route:
		hosts = append(hosts, x.Spec.Host)
	case *gatewayv1.HTTPRoute:
		for _, h := range x.Spec.Hostnames {
			hosts = append(hosts, string(h))
		}
	case *gatewayv1.GRPCRoute:
		for _, h := range x.Spec.Hostnames {
			hosts = append(hosts, string(h))
		}
	case *gatewayv1.TLSRoute:
		for _, h := range x.Spec.Hostnames {
			hosts = append(hosts, string(h))
		}
	}
	out := hosts[:0]
	for _, h := range hosts {
		h = strings.ToLower(h)
		if h != "" && !strings.Contains(h, "*") && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}
