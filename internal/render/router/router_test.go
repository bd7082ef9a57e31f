package router

import (
	"errors"
	"strings"
	"testing"
	"time"

	routev1 "github.com/openshift/api/route/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/inferencepool"
	goldenfile "github.com/inference-exposure/inference-exposure-operator/internal/render/golden"
)

const domain = "alpha.apps.gpu-cluster.example.com"

func triton(mod func(*exposurev1alpha1.RouterSpec)) *exposurev1alpha1.InferenceExposure {
	e := &exposurev1alpha1.InferenceExposure{
		ObjectMeta: metav1.ObjectMeta{Name: "triton", Namespace: "team-a", UID: "0000-1111"},
		Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": "triton"},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000), GRPC: ptr.To[int32](8001), Metrics: ptr.To[int32](8002)},
			Router: &exposurev1alpha1.RouterSpec{
				Paths:   []exposurev1alpha1.HTTPPath{"/v2", "/health"},
				Timeout: "300s",
				TLS:     &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSEdge, SecretName: "alpha-tls-cert"},
				GRPC:    ptr.To(true),
			},
		},
	}
	if mod != nil {
		mod(e.Spec.Router)
	}
	return e
}

func build(t *testing.T, e *exposurev1alpha1.InferenceExposure, typ exposurev1alpha1.RouterType) []client.Object {
	t.Helper()
	host, grpcHost, err := Hosts(e, HostPolicy{Domain: domain})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Build(Input{Exposure: e, Tenant: "alpha", Type: typ, Host: host, GRPCHost: grpcHost})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func golden(t *testing.T, name string, objs []client.Object) {
	t.Helper()
	docs := make([]any, len(objs))
	for i, o := range objs {
		docs[i] = o
	}
	goldenfile.Check(t, name, goldenfile.YAML(t, docs...))
}

func TestGolden(t *testing.T) {
	gw := func(r *exposurev1alpha1.RouterSpec) {
		r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "ai-gateway"}}
	}
	for _, tc := range []struct {
		file string
		typ  exposurev1alpha1.RouterType
		mod  func(*exposurev1alpha1.RouterSpec)
	}{
		{"ingress-nginx-edge.yaml", exposurev1alpha1.RouterIngress, func(r *exposurev1alpha1.RouterSpec) {
			r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "nginx"}
			r.Annotations = map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt"}
		}},
		{"ingress-nginx-reencrypt.yaml", exposurev1alpha1.RouterIngress, func(r *exposurev1alpha1.RouterSpec) {
			r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "nginx", BodySize: "1g"}
			r.TLS.Termination = exposurev1alpha1.TLSReencrypt
			r.Timeout = "0"
		}},
		{"ingress-other-class.yaml", exposurev1alpha1.RouterIngress, func(r *exposurev1alpha1.RouterSpec) {
			r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "haproxy"}
			r.GRPC = nil
		}},
		{"ingress-traefik.yaml", exposurev1alpha1.RouterIngress, func(r *exposurev1alpha1.RouterSpec) {
			r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "traefik"}
			r.GRPC = nil
		}},
		{"route-edge.yaml", exposurev1alpha1.RouterRoute, nil},
		{"route-passthrough.yaml", exposurev1alpha1.RouterRoute, func(r *exposurev1alpha1.RouterSpec) {
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSPassthrough}
			r.Paths = nil
		}},
		{"route-reencrypt-canary.yaml", exposurev1alpha1.RouterRoute, func(r *exposurev1alpha1.RouterSpec) {
			r.TLS.Termination = exposurev1alpha1.TLSReencrypt
			r.TLS.DestinationCACertificate = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
			r.Paths = nil
			r.Backends = []exposurev1alpha1.Backend{{Name: "triton", Weight: 90}, {Name: "triton-canary", Weight: 10}}
			r.Annotations = map[string]string{RouteBalance: "roundrobin"}
		}},
		{"gateway.yaml", exposurev1alpha1.RouterGateway, gw},
		{"gateway-request-deadline.yaml", exposurev1alpha1.RouterGateway, func(r *exposurev1alpha1.RouterSpec) {
			gw(r)
			r.Timeouts = &exposurev1alpha1.RouterTimeouts{Idle: "30s", Request: "1h"}
		}},
		{"gateway-canary-no-timeout.yaml", exposurev1alpha1.RouterGateway, func(r *exposurev1alpha1.RouterSpec) {
			gw(r)
			r.Gateway.ParentRef.Namespace = ""
			r.Gateway.ParentRef.SectionName = "https"
			r.Timeout = "0"
			r.GRPC = nil
			r.Backends = []exposurev1alpha1.Backend{{Name: "triton", Weight: 90}, {Name: "triton-canary", Weight: 10}}
		}},
		{"gateway-passthrough.yaml", exposurev1alpha1.RouterGateway, func(r *exposurev1alpha1.RouterSpec) {
			gw(r)
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSPassthrough}
			r.Paths = nil
		}},
		{"gateway-reencrypt-ca-configmap.yaml", exposurev1alpha1.RouterGateway, func(r *exposurev1alpha1.RouterSpec) {
			gw(r)
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSReencrypt,
				Backend: &exposurev1alpha1.BackendTLS{Hostname: "triton.inference.svc.cluster.local", CAConfigMap: "triton-ca"}}
			r.Backends = []exposurev1alpha1.Backend{{Name: "triton", Weight: 90}, {Name: "triton-canary", Weight: 10}}
		}},
		{"gateway-reencrypt-system-ca.yaml", exposurev1alpha1.RouterGateway, func(r *exposurev1alpha1.RouterSpec) {
			gw(r)
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSReencrypt}
			r.GRPC = nil
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			golden(t, tc.file, build(t, triton(tc.mod), tc.typ))
		})
	}
}

func TestHosts(t *testing.T) {
	long := strings.Repeat("a", 60)
	for _, tc := range []struct {
		name            string
		expName, ns     string
		host, grpcHost  string
		domain          string
		wantHost, wantG string
		wantReason      string
	}{
		{"default", "triton", "team-a", "", "", domain, "triton.team-a." + domain, "triton-grpc.team-a." + domain, ""},
		{"explicit under domain", "triton", "team-a", "inference." + domain, "", domain, "inference." + domain, "inference-grpc." + domain, ""},
		{"explicit grpc host", "triton", "team-a", "", "grpc." + domain, domain, "triton.team-a." + domain, "grpc." + domain, ""},
		{"no domain, explicit: not allowed", "triton", "team-a", "inference-alpha.apps.example.com", "", "", "", "", exposurev1alpha1.ReasonHostInvalid},
		{"no domain, explicit, any host allowed", "triton", "team-a", "inference-alpha.apps.example.com", "", "*", "inference-alpha.apps.example.com", "inference-alpha-grpc.apps.example.com", ""},
		{"outside domain, any host allowed", "triton", "team-a", "inference.other.example.com", "grpc.elsewhere.example.org", domain + "*", "inference.other.example.com", "grpc.elsewhere.example.org", ""},
		{"no domain, no host", "triton", "team-a", "", "", "", "", "", exposurev1alpha1.ReasonHostMissing},
		{"outside domain", "triton", "team-a", "inference.other.example.com", "", domain, "", "", exposurev1alpha1.ReasonHostInvalid},
		{"suffix without dot is outside", "triton", "team-a", "evil" + domain, "", domain, "", "", exposurev1alpha1.ReasonHostInvalid},
		{"grpc host outside domain", "triton", "team-a", "", "grpc.example.org", domain, "", "", exposurev1alpha1.ReasonHostInvalid},
		{"grpc label too long", long, "team-a", "", "", domain, "", "", exposurev1alpha1.ReasonHostInvalid},
		{"label 63 ok without grpc", strings.Repeat("b", 63), "team-a", "", "", domain, strings.Repeat("b", 63) + ".team-a." + domain, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := triton(func(r *exposurev1alpha1.RouterSpec) {
				r.Host = exposurev1alpha1.Hostname(tc.host)
				r.GRPCHost = exposurev1alpha1.Hostname(tc.grpcHost)
			})
			e.Name, e.Namespace = tc.expName, tc.ns
			if tc.name == "label 63 ok without grpc" {
				e.Spec.Router.GRPC = nil
			}
			// A trailing * in the table's domain stands for allowAnyHost.
			dom, any := strings.CutSuffix(tc.domain, "*")
			host, grpcHost, err := Hosts(e, HostPolicy{Domain: dom, AnyHost: any})
			var re *Error
			if tc.wantReason != "" {
				if !errors.As(err, &re) || re.Reason != tc.wantReason {
					t.Fatalf("err = %v, want reason %s", err, tc.wantReason)
				}
				return
			}
			if err != nil || host != tc.wantHost || grpcHost != tc.wantG {
				t.Fatalf("got %q %q %v, want %q %q", host, grpcHost, err, tc.wantHost, tc.wantG)
			}
		})
	}
}

// TestTimeouts: the idle timeout comes from timeouts.idle, else the former timeout, else 300s;
// the request deadline only from timeouts.request, none by default.
func TestTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name          string
		timeout       exposurev1alpha1.Duration
		timeouts      *exposurev1alpha1.RouterTimeouts
		idle, request time.Duration
		nginx         string
	}{
		{"nothing set", "", nil, 300 * time.Second, 0, "300"},
		{"the former timeout is the idle timeout", "1h30m", nil, 90 * time.Minute, 0, "5400"},
		{"rounded up to seconds", "1500ms", nil, 1500 * time.Millisecond, 0, "2"},
		{"no limit", "0", nil, 0, 0, "86400"},
		{"timeouts.idle wins over the former timeout", "300s", &exposurev1alpha1.RouterTimeouts{Idle: "30s"}, 30 * time.Second, 0, "30"},
		{"a request deadline alone keeps the idle default", "", &exposurev1alpha1.RouterTimeouts{Request: "10m"}, 300 * time.Second, 10 * time.Minute, "300"},
		{"both", "", &exposurev1alpha1.RouterTimeouts{Idle: "0", Request: "1h"}, 0, time.Hour, "86400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := triton(func(r *exposurev1alpha1.RouterSpec) { r.Timeout, r.Timeouts = tc.timeout, tc.timeouts })
			if got := IdleTimeout(e); got != tc.idle {
				t.Errorf("IdleTimeout = %v, want %v", got, tc.idle)
			}
			if got := RequestTimeout(e); got != tc.request {
				t.Errorf("RequestTimeout = %v, want %v", got, tc.request)
			}
			if got := idleSeconds(e); got != tc.nginx {
				t.Errorf("idleSeconds = %s, want %s", got, tc.nginx)
			}
		})
	}
}

func TestUnsupportedCombinations(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  exposurev1alpha1.RouterType
		mod  func(*exposurev1alpha1.RouterSpec)
	}{
		{"passthrough on a non-nginx Ingress", exposurev1alpha1.RouterIngress, func(r *exposurev1alpha1.RouterSpec) {
			r.TLS.Termination = exposurev1alpha1.TLSPassthrough
		}},
		{"Gateway without parentRef", exposurev1alpha1.RouterGateway, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := triton(tc.mod)
			_, err := Build(Input{Exposure: e, Type: tc.typ, Host: "h.example.com", GRPCHost: "g.example.com"})
			var re *Error
			if !errors.As(err, &re) || re.Message == "" {
				t.Fatalf("err = %v, want a router.Error", err)
			}
		})
	}
}

func TestURLAndAddress(t *testing.T) {
	e := triton(nil)
	in := Input{Exposure: e, Host: "triton.team-a." + domain, GRPCHost: "triton-grpc.team-a." + domain}
	if got := URL(in); got != "https://triton.team-a."+domain+"/v2" {
		t.Errorf("URL = %s", got)
	}
	if got := GRPCAddress(in); got != "triton-grpc.team-a."+domain+":443" {
		t.Errorf("GRPCAddress = %s", got)
	}
}

func TestRouteVerdict(t *testing.T) {
	admitted := func(st string, reason string) *routev1.Route {
		r := &routev1.Route{ObjectMeta: metav1.ObjectMeta{Name: "triton"}}
		r.Status.Ingress = []routev1.RouteIngress{{RouterName: "default", Conditions: []routev1.RouteIngressCondition{{Type: routev1.RouteAdmitted, Status: "True"}}}}
		if st != "" {
			r.Status.Ingress[0].Conditions[0].Status = "False"
			r.Status.Ingress[0].Conditions[0].Reason = reason
		}
		return r
	}
	if v := RouteVerdict([]*routev1.Route{{}}); v.Status != metav1.ConditionUnknown {
		t.Errorf("no status: %+v", v)
	}
	if v := RouteVerdict([]*routev1.Route{admitted("", "")}); v.Status != metav1.ConditionTrue {
		t.Errorf("admitted: %+v", v)
	}
	if v := RouteVerdict([]*routev1.Route{admitted("", ""), admitted("False", "HostAlreadyClaimed")}); v.Status != metav1.ConditionFalse || v.Reason != "HostAlreadyClaimed" {
		t.Errorf("one rejected: %+v", v)
	}
}

// TestHostsUnderNestedDomains: a host belongs to the tenant with the most specific hostDomain
// that holds it, default hosts and explicit ones alike, allowAnyHost or not.
func TestHostsUnderNestedDomains(t *testing.T) {
	broad := &exposurev1alpha1.InferenceTenant{Spec: exposurev1alpha1.InferenceTenantSpec{HostDomain: "apps.example.com"}}
	nested := &exposurev1alpha1.InferenceTenant{Spec: exposurev1alpha1.InferenceTenantSpec{HostDomain: "beta.apps.example.com"}}
	anyHost := &exposurev1alpha1.InferenceTenant{Spec: exposurev1alpha1.InferenceTenantSpec{AllowAnyHost: true}}
	granted := &exposurev1alpha1.InferenceTenant{Spec: exposurev1alpha1.InferenceTenantSpec{HostDomain: "gamma.example.org",
		AllowedHosts: []string{"api.example.net", "*.models.example.net", "x.beta.apps.example.com", "*.beta.apps.example.com"}}}
	noDomain := &exposurev1alpha1.InferenceTenant{Spec: exposurev1alpha1.InferenceTenantSpec{AllowedHosts: []string{"api.example.net"}}}
	domains := []string{"apps.example.com", "beta.apps.example.com", "gamma.example.org"}
	for _, tc := range []struct {
		name   string
		tenant *exposurev1alpha1.InferenceTenant
		ns     string
		host   string
		want   string // reason, "" when routed
	}{
		{"the broad tenant's own host", broad, "team", "api.team.apps.example.com", ""},
		{"the broad tenant takes a host in the nested domain", broad, "team", "vllm.tenant-beta.beta.apps.example.com", exposurev1alpha1.ReasonHostConflict},
		{"the broad tenant's default host falls in the nested domain", broad, "beta", "", exposurev1alpha1.ReasonHostConflict},
		{"the nested domain itself", broad, "team", "beta.apps.example.com", exposurev1alpha1.ReasonHostConflict},
		{"the nested tenant's default host", nested, "tenant-beta", "", ""},
		{"the nested tenant, explicitly", nested, "tenant-beta", "x.beta.apps.example.com", ""},
		{"a tenant that may route any host, in another's domain", anyHost, "byo", "grab.beta.apps.example.com", exposurev1alpha1.ReasonHostConflict},
		{"a tenant that may route any host, outside every domain", anyHost, "byo", "chat.byo.example.org", ""},
		{"a granted host outside the tenant's domain", granted, "gamma", "api.example.net", ""},
		{"a host under a granted wildcard", granted, "gamma", "llama.eu.models.example.net", ""},
		{"a wildcard grant does not cover its domain itself", granted, "gamma", "models.example.net", exposurev1alpha1.ReasonHostInvalid},
		{"a host next to a grant", granted, "gamma", "api2.example.net", exposurev1alpha1.ReasonHostInvalid},
		{"a grant never reaches into another tenant's domain", granted, "gamma", "x.beta.apps.example.com", exposurev1alpha1.ReasonHostConflict},
		{"nor does a wildcard grant", granted, "gamma", "y.beta.apps.example.com", exposurev1alpha1.ReasonHostConflict},
		{"a tenant without hostDomain, its granted host", noDomain, "delta", "api.example.net", ""},
		{"a tenant without hostDomain, another host", noDomain, "delta", "web.example.net", exposurev1alpha1.ReasonHostInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := triton(func(r *exposurev1alpha1.RouterSpec) {
				r.Host = exposurev1alpha1.Hostname(tc.host)
				r.GRPC = ptr.To(false)
			})
			e.Name, e.Namespace = "vllm", tc.ns
			_, _, err := Hosts(e, PolicyOf(tc.tenant, domains))
			var re *Error
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!errors.As(err, &re) || re.Reason != tc.want):
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

// TestHostPolicyAllows: whether a host the routing objects already serve may stay: the tenant's
// domain less nested ones, any host with allowAnyHost, and grants, never into another's domain.
func TestHostPolicyAllows(t *testing.T) {
	p := HostPolicy{Domain: "apps.example.com", Others: []string{"beta.apps.example.com"}, Granted: []string{"api.example.net", "*.beta.apps.example.com"}}
	for host, want := range map[string]bool{
		"a.team.apps.example.com": true,
		"apps.example.com":        true,
		"x.beta.apps.example.com": false, // granted, but another tenant's domain
		"api.example.net":         true,
		"web.example.net":         false,
		"":                        false,
	} {
		if got := p.Allows(host); got != want {
			t.Errorf("Allows(%q) = %v, want %v", host, got, want)
		}
	}
	if !(HostPolicy{AnyHost: true}).Allows("chat.byo.example.org") {
		t.Error("allowAnyHost must allow a host outside every domain")
	}
}

// TestIngressByController: the annotations follow the IngressClass's controller, not its name;
// the name decides only while the class is not known.
func TestIngressByController(t *testing.T) {
	for _, tc := range []struct {
		name, controller, class string
		grpc                    bool
		want                    string // an annotation key written, "" for none
		err                     string // a refusal's reason
	}{
		{"ingress-nginx under any class name", ControllerIngressNginx, "public", false, NginxReadTimeout, ""},
		{"Traefik's provider: HTTPS only", ControllerTraefik, "web", false, TraefikRouterTLS, ""},
		{"Traefik's provider cannot carry gRPC", ControllerTraefik, "web", true, "", exposurev1alpha1.ReasonRouterUnsupported},
		{"F5 NGINX under the class name nginx: its own dialect", ControllerF5NGINX, "nginx", false, F5ReadTimeout, ""},
		{"F5 NGINX carries gRPC", ControllerF5NGINX, "nginx", true, F5ReadTimeout, ""},
		{"HAProxy Ingress under the class name nginx: its own dialect", ControllerHAProxyIngress, "nginx", false, HAProxyIngressTimeoutServer, ""},
		{"HAProxy Ingress carries gRPC", ControllerHAProxyIngress, "haproxy", true, HAProxyIngressBackendProtocol, ""},
		{"HAProxy Technologies' controller", ControllerHAProxyTech, "haproxy", false, HAProxyTechTimeoutServer, ""},
		{"one of several HAProxy Technologies' controllers", ControllerHAProxyTech + "/prod", "haproxy-prod", true, HAProxyTechServerProto, ""},
		{"a controller not known: nothing it would misread", "example.com/ingress", "nginx", false, "", ""},
		{"an unknown class named nginx", "", "nginx", false, NginxReadTimeout, ""},
		{"an unknown class named traefik", "", "traefik", false, TraefikRouterTLS, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := triton(func(r *exposurev1alpha1.RouterSpec) {
				r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: tc.class}
				r.GRPC = ptr.To(tc.grpc)
			})
			objs, err := Ingresses(Input{Exposure: e, Host: "h.example.com", GRPCHost: "g.example.com", IngressController: tc.controller})
			var re *Error
			switch {
			case tc.err != "":
				if !errors.As(err, &re) || re.Reason != tc.err {
					t.Fatalf("err = %v, want %s", err, tc.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			a := objs[len(objs)-1].GetAnnotations() // with grpc, the gRPC host's Ingress
			if tc.want == "" && len(a) != 0 || tc.want != "" && a[tc.want] == "" {
				t.Fatalf("annotations %v, want %q", a, tc.want)
			}
		})
	}
}

// TestGoldenByController: what depends on the controller that serves the routing. F5 NGINX
// Ingress Controller's dialect, known by its controller under the class name nginx, with gRPC;
// and on Envoy Gateway a BackendTrafficPolicy that holds the idle timeout and the request
// deadline, for the GRPCRoute too.
func TestGoldenByController(t *testing.T) {
	for _, tc := range []struct {
		file string
		typ  exposurev1alpha1.RouterType
		mod  func(*exposurev1alpha1.RouterSpec)
		in   func(*Input)
	}{
		{"ingress-f5-nginx.yaml", exposurev1alpha1.RouterIngress, func(r *exposurev1alpha1.RouterSpec) {
			r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "nginx"}
			r.Timeouts = &exposurev1alpha1.RouterTimeouts{Idle: "10m"}
		}, func(in *Input) { in.IngressController = ControllerF5NGINX }},
		{"ingress-haproxy-ingress.yaml", exposurev1alpha1.RouterIngress, func(r *exposurev1alpha1.RouterSpec) {
			r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "haproxy", BodySize: "2g"}
			r.Timeouts = &exposurev1alpha1.RouterTimeouts{Idle: "10m"}
		}, func(in *Input) { in.IngressController = ControllerHAProxyIngress }},
		{"ingress-haproxytech.yaml", exposurev1alpha1.RouterIngress, func(r *exposurev1alpha1.RouterSpec) {
			r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "haproxy"}
		}, func(in *Input) { in.IngressController = ControllerHAProxyTech }},
		{"gateway-inference-pool.yaml", exposurev1alpha1.RouterGateway, func(r *exposurev1alpha1.RouterSpec) {
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "inference-gateway"}}
			r.InferencePool = &exposurev1alpha1.InferencePoolSettings{}
		}, func(in *Input) {
			in.InferencePools = true
			in.EndpointPicker = &exposurev1alpha1.EndpointPicker{Name: "triton-epp", Port: 9002}
		}},
		{"gateway-envoy-gateway.yaml", exposurev1alpha1.RouterGateway, func(r *exposurev1alpha1.RouterSpec) {
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "eg"}}
			r.Timeouts = &exposurev1alpha1.RouterTimeouts{Idle: "10m", Request: "1h"}
		}, func(in *Input) { in.GatewayPolicies = true }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := triton(tc.mod)
			host, grpcHost, err := Hosts(e, HostPolicy{Domain: domain})
			if err != nil {
				t.Fatal(err)
			}
			in := Input{Exposure: e, Tenant: "alpha", Type: tc.typ, Host: host, GRPCHost: grpcHost}
			tc.in(&in)
			objs, err := Build(in)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, objs)
		})
	}
}

// TestInferencePools: the routes go to the exposure's own pools, never another namespace's,
// with the tenant's name set (not added) as the fairness key; the exposure's picker wins over
// the tenant's; without the API the routes keep the Service.
func TestInferencePools(t *testing.T) {
	gw := &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "inference-gateway"}}
	e := triton(func(r *exposurev1alpha1.RouterSpec) {
		r.Gateway = gw
		r.InferencePool = &exposurev1alpha1.InferencePoolSettings{EndpointPicker: &exposurev1alpha1.EndpointPicker{Name: "own-epp", Port: 9002, FailureMode: "FailOpen"}}
	})
	in := Input{Exposure: e, Tenant: "alpha", Type: exposurev1alpha1.RouterGateway, Host: "h.example.com", GRPCHost: "g.example.com",
		InferencePools: true, EndpointPicker: &exposurev1alpha1.EndpointPicker{Name: "tenant-epp", Port: 9002}}
	objs, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var hr *gatewayv1.HTTPRoute
	var gr *gatewayv1.GRPCRoute
	pools := map[string]*inferencepool.InferencePool{}
	for _, o := range objs {
		switch o := o.(type) {
		case *gatewayv1.HTTPRoute:
			hr = o
		case *gatewayv1.GRPCRoute:
			gr = o
		case *inferencepool.InferencePool:
			pools[o.Name] = o
		}
	}
	if len(pools) != 2 || pools["triton"].Spec.TargetPorts[0].Number != 8000 || pools["triton-grpc"].Spec.TargetPorts[0].Number != 8001 ||
		pools["triton-grpc"].Spec.AppProtocol != inferencepool.AppProtocolH2C || pools["triton"].Spec.Selector.MatchLabels["app"] != "triton" {
		t.Fatalf("pools: %+v", pools)
	}
	if p := pools["triton"].Spec.EndpointPickerRef; p == nil || p.Name != "own-epp" || p.FailureMode != "FailOpen" || pools["triton"].Namespace != e.Namespace {
		t.Fatalf("the exposure's picker, in its namespace: %+v", pools["triton"])
	}
	ref := hr.Spec.Rules[0].BackendRefs[0]
	if len(hr.Spec.Rules[0].BackendRefs) != 1 || string(*ref.Kind) != "InferencePool" || ref.Name != "triton" || ref.Namespace != nil {
		t.Fatalf("HTTPRoute backend: %+v", hr.Spec.Rules[0].BackendRefs)
	}
	f := hr.Spec.Rules[0].Filters
	if len(f) != 1 || f[0].RequestHeaderModifier == nil || len(f[0].RequestHeaderModifier.Set) != 1 || len(f[0].RequestHeaderModifier.Add) != 0 ||
		f[0].RequestHeaderModifier.Set[0] != (gatewayv1.HTTPHeader{Name: inferencepool.FairnessHeader, Value: "alpha"}) {
		t.Fatalf("the fairness key must be set (replacing the client's): %+v", f)
	}
	if gref := gr.Spec.Rules[0].BackendRefs[0]; gref.Name != "triton-grpc" || len(gr.Spec.Rules[0].Filters) != 1 {
		t.Fatalf("GRPCRoute: %+v", gr.Spec.Rules[0])
	}

	// The tenant's picker when the exposure names none.
	e.Spec.Router.InferencePool.EndpointPicker = nil
	objs, _ = Build(in)
	for _, o := range objs {
		if p, ok := o.(*inferencepool.InferencePool); ok && (p.Spec.EndpointPickerRef == nil || p.Spec.EndpointPickerRef.Name != "tenant-epp" || p.Spec.EndpointPickerRef.FailureMode != "FailClose") {
			t.Fatalf("tenant default picker: %+v", p.Spec.EndpointPickerRef)
		}
	}
	// Not served: the Service, and no pools.
	in.InferencePools = false
	objs, _ = Build(in)
	for _, o := range objs {
		if _, ok := o.(*inferencepool.InferencePool); ok {
			t.Fatal("a pool without the API")
		}
		if hr, ok := o.(*gatewayv1.HTTPRoute); ok && (string(*hr.Spec.Rules[0].BackendRefs[0].Kind) != "Service" || len(hr.Spec.Rules[0].Filters) != 0) {
			t.Fatalf("without the API the route keeps the Service: %+v", hr.Spec.Rules[0])
		}
	}
}
