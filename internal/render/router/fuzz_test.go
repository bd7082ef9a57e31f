package router

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// FuzzHostsAndBuild: whatever names and hosts come in, Hosts either explains the refusal or
// returns valid DNS names under the domain, and every builder then produces objects on those
// hosts without panicking.
func FuzzHostsAndBuild(f *testing.F) {
	f.Add("triton", "team-a", "", "", domain, "/v2")
	f.Add("x", "y", "inference."+domain, "g."+domain, domain, "/")
	f.Add(strings.Repeat("a", 63), "ns", "", "", "example.com", "/health")
	f.Fuzz(func(t *testing.T, name, ns, host, grpcHost, dom, path string) {
		e := triton(func(r *exposurev1alpha1.RouterSpec) {
			r.Host = exposurev1alpha1.Hostname(host)
			r.GRPCHost = exposurev1alpha1.Hostname(grpcHost)
			r.Paths = []exposurev1alpha1.HTTPPath{exposurev1alpha1.HTTPPath(path)}
		})
		e.Name, e.Namespace = name, ns
		h, g, err := Hosts(e, HostPolicy{Domain: dom, AnyHost: len(dom)%2 == 1})
		if err != nil {
			var re *Error
			if !errors.As(err, &re) || re.Reason == "" || re.Message == "" {
				t.Fatalf("unexplained error %v", err)
			}
			return
		}
		for _, x := range []string{h, g} {
			if len(validation.IsDNS1123Subdomain(x)) > 0 {
				t.Fatalf("invalid host %q", x)
			}
			for _, l := range strings.Split(x, ".") {
				if len(l) > 63 {
					t.Fatalf("label too long in %q", x)
				}
			}
			if dom != "" && !strings.HasSuffix(x, "."+dom) {
				t.Fatalf("%q is not under %q", x, dom)
			}
		}
		e.Spec.Router.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
		for _, typ := range []exposurev1alpha1.RouterType{exposurev1alpha1.RouterIngress, exposurev1alpha1.RouterRoute, exposurev1alpha1.RouterGateway} {
			objs, err := Build(Input{Exposure: e, Type: typ, Host: h, GRPCHost: g})
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 2 {
				t.Fatalf("%s: %d objects", typ, len(objs))
			}
		}
	})
}
