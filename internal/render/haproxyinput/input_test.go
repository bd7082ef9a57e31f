package haproxyinput

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
)

// TestHAProxyFrontendTimeout: an exposure's router.timeout bounds its gRPC frontend's streams;
// 0 means no limit (24h), no router means the global --haproxy-timeout.
func TestHAProxyFrontendTimeout(t *testing.T) {
	tenant := exposurev1alpha1.InferenceTenant{}
	tenant.Name = "alpha"
	tenant.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.10"}
	tenant.Status.Namespaces = []string{"team-a"}
	exp := func(name string, timeout *exposurev1alpha1.Duration, grpc int32) *exposurev1alpha1.InferenceExposure {
		e := grpcExposure("team-a", name)
		if timeout != nil {
			e.Spec.Router = &exposurev1alpha1.RouterSpec{Timeout: *timeout}
		}
		e.Status.Tenant = "alpha"
		e.Status.NodePorts = &exposurev1alpha1.NodePorts{HTTP: grpc - 1, GRPC: grpc}
		return e
	}
	in := Build(haproxy.Globals{}, labels.Everything(), labels.Everything(), []*exposurev1alpha1.InferenceTenant{&tenant}, []*exposurev1alpha1.InferenceExposure{
		exp("plain", nil, 30801), exp("ten-minutes", ptr.To[exposurev1alpha1.Duration]("10m"), 30803), exp("unlimited", ptr.To[exposurev1alpha1.Duration]("0"), 30805),
	}, nil, statusGRPCPort)
	want := map[string]time.Duration{"plain": 0, "ten-minutes": 10 * time.Minute, "unlimited": 24 * time.Hour}
	if len(in.Tenants) != 1 || len(in.Tenants[0].GRPC) != 3 {
		t.Fatalf("input = %+v", in)
	}
	for _, f := range in.Tenants[0].GRPC {
		if f.Timeout != want[f.Exposure] {
			t.Errorf("%s: timeout %v, want %v", f.Exposure, f.Timeout, want[f.Exposure])
		}
	}
}

// TestHAProxyTenantHostsAndPorts: a tenant's HTTPS frontend passes its hostDomain, plus the
// routed hosts of its exposures when it may route any host or has hosts granted; its range of frontend ports is its
// spec's, else its block; exposures carry their creation time for first come, first served.
func TestHAProxyTenantHostsAndPorts(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	tenant := func(name string, anyHost bool, ports *exposurev1alpha1.FrontendPortRange) *exposurev1alpha1.InferenceTenant {
		tn := &exposurev1alpha1.InferenceTenant{}
		tn.Name = name
		tn.Spec.HostDomain = name + ".apps.example.com"
		tn.Spec.AllowAnyHost = anyHost
		tn.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.10", GRPCFrontendPorts: ports}
		tn.Status.Namespaces = []string{"ns-" + name}
		tn.Status.PortBlock = &exposurev1alpha1.PortBlockStatus{Start: 30800, End: 30899, Size: 100}
		return tn
	}
	exp := func(tenant, name, url, grpcAddr string) *exposurev1alpha1.InferenceExposure {
		e := grpcExposure("ns-"+tenant, name)
		e.CreationTimestamp = created
		e.Status.Tenant, e.Status.URL, e.Status.GRPCAddress = tenant, url, grpcAddr
		e.Status.NodePorts = &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 30801}
		return e
	}
	granted := tenant("gamma", false, nil)
	granted.Spec.AllowedHosts = []string{"api.example.net"}
	in := Build(haproxy.Globals{}, labels.Everything(), labels.Everything(), []*exposurev1alpha1.InferenceTenant{
		tenant("alpha", false, nil), tenant("byo", true, &exposurev1alpha1.FrontendPortRange{Start: 9000, End: 9099}), granted,
	}, []*exposurev1alpha1.InferenceExposure{
		exp("alpha", "a", "https://a.ns-alpha.alpha.apps.example.com/", "a-grpc.ns-alpha.alpha.apps.example.com:443"),
		exp("byo", "b", "https://chat.byo.example.org/v1", "grpc.byo.example.org:443"),
		exp("byo", "c", "", ""),
		exp("gamma", "g", "https://api.example.net/", ""),
	}, nil, statusGRPCPort)
	if len(in.Tenants) != 3 {
		t.Fatalf("input = %+v", in)
	}
	alpha, byo, gamma := in.Tenants[0], in.Tenants[1], in.Tenants[2]
	if strings.Join(gamma.Hosts, " ") != "api.example.net" {
		t.Errorf("gamma: the granted host it routes is not passed: %+v", gamma)
	}
	if alpha.HostDomain != "alpha.apps.example.com" || len(alpha.Hosts) != 0 || alpha.FrontendPorts != (haproxy.PortRange{Start: 30800, End: 30899}) {
		t.Errorf("alpha: %+v", alpha)
	}
	if strings.Join(byo.Hosts, " ") != "chat.byo.example.org grpc.byo.example.org" || byo.FrontendPorts != (haproxy.PortRange{Start: 9000, End: 9099}) {
		t.Errorf("byo: %+v", byo)
	}
	if !alpha.GRPC[0].Created.Equal(created.Time) {
		t.Errorf("creation time not carried: %+v", alpha.GRPC[0])
	}
}

// statusGRPCPort stands in for the Service lookup where the tests build exposures without
// Services: the port their status names.
func statusGRPCPort(e *exposurev1alpha1.InferenceExposure) int32 { return e.Status.NodePorts.GRPC }

// TestHAProxyPortsFromTheService: the frontend forwards to the grpc nodePort of the Service the
// exposure controls, whatever its status says; an exposure without such a Service (none yet,
// or one it does not control) gets no frontend.
func TestHAProxyPortsFromTheService(t *testing.T) {
	tenant := exposurev1alpha1.InferenceTenant{}
	tenant.Name = "alpha"
	tenant.Spec.HAProxy = &exposurev1alpha1.TenantHAProxySpec{VIP: "10.0.100.10"}
	tenant.Status.Namespaces = []string{"team-a"}
	e := grpcExposure("team-a", "triton")
	e.UID = "uid-triton"
	e.Status.Tenant = "alpha"
	e.Status.NodePorts = &exposurev1alpha1.NodePorts{HTTP: 30800, GRPC: 31999} // written by someone else: another tenant's port
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "triton",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "exposure.inference.dev/v1alpha1", Kind: "InferenceExposure", Name: "triton", UID: "uid-triton", Controller: ptr.To(true)}}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", NodePort: 30800}, {Name: "grpc", NodePort: 30801}}}}
	lookup := func(svc *corev1.Service) func(*exposurev1alpha1.InferenceExposure) int32 {
		return func(x *exposurev1alpha1.InferenceExposure) int32 { return GRPCNodePortOf(svc, x) }
	}
	in := Build(haproxy.Globals{}, labels.Everything(), labels.Everything(), []*exposurev1alpha1.InferenceTenant{&tenant}, []*exposurev1alpha1.InferenceExposure{e}, nil, lookup(svc))
	if len(in.Tenants[0].GRPC) != 1 || in.Tenants[0].GRPC[0].NodePort != 30801 || in.Tenants[0].GRPC[0].BindPort != 30801 {
		t.Fatalf("frontends %+v, want the Service's nodePort 30801", in.Tenants[0].GRPC)
	}
	foreign := svc.DeepCopy()
	foreign.OwnerReferences[0].UID = "someone-else"
	for name, s := range map[string]*corev1.Service{"no Service": nil, "a Service the exposure does not control": foreign} {
		in := Build(haproxy.Globals{}, labels.Everything(), labels.Everything(), []*exposurev1alpha1.InferenceTenant{&tenant}, []*exposurev1alpha1.InferenceExposure{e}, nil, lookup(s))
		if len(in.Tenants[0].GRPC) != 0 {
			t.Errorf("%s: frontends %+v, want none", name, in.Tenants[0].GRPC)
		}
	}
}

// grpcExposure is an exposure of pods labelled app=name with an http and a grpc port.
func grpcExposure(ns, name string) *exposurev1alpha1.InferenceExposure {
	return &exposurev1alpha1.InferenceExposure{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": exposurev1alpha1.LabelValue(name)},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000), GRPC: ptr.To[int32](8001)},
		},
	}
}
