// Package haproxyinput turns the cluster's tenants, exposures and nodes into the HAProxy
// renderer's input. Pure: it reads only its arguments.
package haproxyinput

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
)

// Build turns the cluster's tenants, exposures and nodes into the renderer's input.
// Pure: it reads only its arguments.
//
// grpcNodePort gives the grpc nodePort of the Service the exposure controls (0 when there is
// none): the frontend forwards there, not to the port the exposure's status names, which a
// tenant allowed to write status could point at another tenant's Service.
func Build(g haproxy.Globals, backendNodes, ingressNodes labels.Selector, tenants []*exposurev1alpha1.InferenceTenant, exposures []*exposurev1alpha1.InferenceExposure, nodes []*corev1.Node,
	grpcNodePort func(*exposurev1alpha1.InferenceExposure) int32) haproxy.Input {
	in := haproxy.Input{
		Globals:      g,
		BackendNodes: selectNodes(nodes, backendNodes),
		IngressNodes: selectNodes(nodes, ingressNodes),
	}
	byTenant := map[string][]*exposurev1alpha1.InferenceExposure{}
	// The routed hosts of tenants that may route hosts outside their hostDomain (any host, or
	// the hosts the platform granted them): their VIPs pass those too.
	hosts := map[string][]string{}
	listed := map[string]bool{}
	for _, t := range tenants {
		listed[t.Name] = t.Spec.AllowAnyHost || len(t.Spec.AllowedHosts) > 0
	}
	for _, e := range exposures {
		if listed[e.Status.Tenant] {
			hosts[e.Status.Tenant] = append(hosts[e.Status.Tenant], router.RoutedHosts(&e.Status)...)
		}
		if e.Status.Tenant == "" || e.Status.NodePorts == nil || e.Status.NodePorts.GRPC == 0 {
			continue
		}
		byTenant[e.Status.Tenant] = append(byTenant[e.Status.Tenant], e)
	}
	for _, t := range tenants {
		if t.Spec.HAProxy == nil || !t.DeletionTimestamp.IsZero() {
			continue
		}
		ht := haproxy.Tenant{Name: t.Name, VIP: t.Spec.HAProxy.VIP, CertificatePath: t.Spec.HAProxy.CertificatePath,
			HostDomain: t.Spec.HostDomain, Hosts: hosts[t.Name]}
		switch r := t.Spec.HAProxy.GRPCFrontendPorts; {
		case r != nil:
			ht.FrontendPorts = haproxy.PortRange{Start: r.Start, End: r.End}
		case t.Status.PortBlock != nil:
			ht.FrontendPorts = haproxy.PortRange{Start: t.Status.PortBlock.Start, End: t.Status.PortBlock.End}
		}
		for _, e := range byTenant[t.Name] {
			if !slices.Contains(t.Status.Namespaces, e.Namespace) {
				continue
			}
			np := grpcNodePort(e)
			if np == 0 {
				continue // no Service of the exposure's holds a grpc nodePort (yet)
			}
			f := haproxy.GRPCFrontend{Namespace: e.Namespace, Exposure: e.Name, NodePort: np, BindPort: np,
				Local: e.Spec.NodePort.ExternalTrafficPolicy == exposurev1alpha1.ExternalTrafficPolicyLocal, Created: e.CreationTimestamp.Time}
			if e.Spec.HAProxy != nil && e.Spec.HAProxy.GRPCFrontendPort != nil {
				f.BindPort = *e.Spec.HAProxy.GRPCFrontendPort
			}
			if e.Spec.Router != nil { // the exposure's own timeout bounds its streams here too
				if f.Timeout = router.IdleTimeout(e); f.Timeout == 0 {
					f.Timeout = router.NoLimit
				}
			}
			ht.GRPC = append(ht.GRPC, f)
		}
		in.Tenants = append(in.Tenants, ht)
	}
	return in
}

// GRPCNodePortOf is the nodePort of svc's grpc port when e controls svc, else 0.
func GRPCNodePortOf(svc *corev1.Service, e *exposurev1alpha1.InferenceExposure) int32 {
	if svc == nil || !metav1.IsControlledBy(svc, e) {
		return 0
	}
	for _, p := range svc.Spec.Ports {
		if p.Name == "grpc" {
			return p.NodePort
		}
	}
	return 0
}

// selectNodes returns the nodes matching sel, by their InternalIP; nodes that are not Ready are
// marked Down (they keep their server slot, disabled), nodes being deleted are left out.
func selectNodes(nodes []*corev1.Node, sel labels.Selector) []haproxy.Node {
	var out []haproxy.Node
	for _, n := range nodes {
		if !sel.Matches(labels.Set(n.Labels)) || !n.DeletionTimestamp.IsZero() {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				out = append(out, haproxy.Node{Name: n.Name, IP: ip, Down: !NodeReady(n)})
				break
			}
		}
	}
	return out
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
