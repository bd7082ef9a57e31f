// Package haproxy renders the HAProxy configuration that fronts the cluster: per tenant, TCP
// frontends on the tenant's VIP straight to the nodes' NodePorts for raw gRPC, and an HTTPS
// frontend towards the ingress nodes. Pure: the same input always gives the same bytes.
//
// Nothing from a custom resource reaches the file unchecked: names must be DNS labels, addresses
// are parsed with net/netip, paths must match a strict pattern. A tenant with a value that
// cannot be rendered safely is left out with an error; the others are still rendered.
package haproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Node is a Kubernetes node HAProxy forwards to.
type Node struct {
	Name string
	IP   netip.Addr
	// Down is a node that is not Ready: it keeps its server slot, disabled, so that it comes
	// back without a reload.
	Down bool
}

// GRPCFrontend is one exposed gRPC port of an exposure.
type GRPCFrontend struct {
	Namespace string
	Exposure  string
	// BindPort is the port on the tenant VIP (the nodePort unless the exposure asks for another).
	BindPort int32
	// NodePort is the Service's nodePort on every backend node.
	NodePort int32
	// Timeout bounds an idle stream; zero means the global default.
	Timeout time.Duration
	// Local is set for externalTrafficPolicy Local: only nodes with a local endpoint answer on
	// the nodePort, so the frontend gets a backend of its own that checks exactly that port.
	Local bool
	// Created is when the exposure was created: of two exposures that choose the same port on
	// a VIP, the older one keeps it.
	Created time.Time
}

// PortRange is an inclusive range of ports.
type PortRange struct {
	Start, End int32
}

// Contains reports whether p is within the range.
func (r PortRange) Contains(p int32) bool { return r.Start <= p && p <= r.End }

func (r PortRange) String() string {
	if r.Start == r.End {
		return strconv.Itoa(int(r.Start))
	}
	return fmt.Sprintf("%d-%d", r.Start, r.End)
}

// Tenant is one tenant's part of the configuration.
type Tenant struct {
	Name string
	VIP  string
	// CertificatePath enables the HTTPS frontend on VIP:443.
	CertificatePath string
	GRPC            []GRPCFrontend
	// HostDomain is the tenant's hostDomain: its HTTPS frontend passes hosts under it (less
	// those under another tenant's hostDomain nested in it) and refuses every other Host or SNI.
	HostDomain string
	// Hosts are further hosts the HTTPS frontend passes, exactly (the hosts of a tenant that
	// may route any host).
	Hosts []string
	// FrontendPorts are the ports the tenant's exposures may choose for their gRPC frontends
	// (haproxy.grpcFrontendPort); the zero range allows none. A frontend on its own nodePort is
	// always allowed: the nodePort is the tenant's.
	FrontendPorts PortRange
}

// Input is everything the configuration is made from.
type Input struct {
	Tenants      []Tenant
	BackendNodes []Node
	IngressNodes []Node
	// BackendSlots and IngressSlots are the slot tables of the previous render (ParseSlots):
	// nodes keep their slots. Empty tables place every node afresh.
	BackendSlots, IngressSlots SlotTable
	Globals
}

// Globals are the settings that are the same for every tenant; they come from operator flags.
type Globals struct {
	// IngressPort is the ingress nodes' HTTPS port (443).
	IngressPort int32
	// HTTPSPort is the port of each tenant's HTTPS frontend on its VIP (443).
	HTTPSPort int32
	// IngressCAPath, when set, makes HAProxy verify the ingress nodes' certificates.
	IngressCAPath string
	// StatsBind is the address of the stats and Prometheus endpoint, e.g. ":8404".
	StatsBind string
	// Timeout is the default client/server timeout for long-lived inference streams.
	Timeout time.Duration
	// HardStopAfter bounds how long an old process lingers on reload with open streams.
	HardStopAfter time.Duration
	// ServerSlots is the least number of server slots per backend (DefaultSlots when zero).
	ServerSlots int
	// ReservedPorts are never bound on a VIP: the ports of what else listens on the HAProxy
	// hosts (sshd, the kubelet, HAProxy's stats, the agent). A bind there would fail, or take
	// the port from the host.
	ReservedPorts []PortRange
}

// DefaultReservedPorts are the ports that listen on a Kubernetes edge node besides HAProxy's
// frontends: sshd (22), etcd (2379-2380), the API server (6443), HAProxy's stats (8404) and
// the agent (8405), the kubelet, kube-proxy and the control plane's components (10248-10260).
var DefaultReservedPorts = []PortRange{{22, 22}, {2379, 2380}, {6443, 6443}, {8404, 8405}, {10248, 10260}}

// reserved returns the reserved range holding p, if any.
func (g Globals) reserved(p int32) (PortRange, bool) {
	for _, r := range g.ReservedPorts {
		if r.Contains(p) {
			return r, true
		}
	}
	return PortRange{}, false
}

// TenantError says why a tenant was left out of the configuration.
type TenantError struct {
	Tenant string
	Reason string
	Msg    string
}

func (e *TenantError) Error() string { return fmt.Sprintf("tenant %s: %s", e.Tenant, e.Msg) }

// Reasons of TenantError.
const (
	ReasonInvalidName  = "InvalidName"
	ReasonInvalidVIP   = "InvalidVIP"
	ReasonInvalidPath  = "InvalidCertificatePath"
	ReasonInvalidPort  = "InvalidPort"
	ReasonBindConflict = "BindConflict"
	// ReasonFrontendPortNotAllowed: an exposure chose a frontend port that is reserved on the
	// HAProxy hosts or outside its tenant's allowed range.
	ReasonFrontendPortNotAllowed = "FrontendPortNotAllowed"
)

var (
	nodeNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	// pathRE admits absolute paths of plain characters only: no spaces, quotes, '#', '\' or
	// newlines, which HAProxy would read as syntax.
	pathRE = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)
)

// isDNSLabel reports whether s is a DNS-1123 label: ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$,
// checked by hand because it runs for every exposure of every render.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// ValidPath reports whether p can be written into the configuration as a file path.
func ValidPath(p string) bool {
	return len(p) <= 4096 && pathRE.MatchString(p) && !strings.Contains(p, "/../") && !strings.HasSuffix(p, "/..")
}

// ValidBind reports whether b is an address:port HAProxy can bind (":8404", "127.0.0.1:8404").
func ValidBind(b string) bool {
	if port, ok := strings.CutPrefix(b, ":"); ok {
		p, err := strconv.Atoi(port)
		return err == nil && p > 0 && p < 65536 && strconv.Itoa(p) == port
	}
	ap, err := netip.ParseAddrPort(b)
	return err == nil && ap.Port() != 0 && ap.Addr().Zone() == ""
}

type bindKey struct {
	addr netip.Addr
	port int32
}

// bindHolder is the frontend holding an address:port, by index: gRPC frontend grpc of
// tenants[tenant], or that tenant's HTTPS frontend when grpc is -1.
type bindHolder struct {
	tenant, grpc int32
}

// describe names the holder for a message.
// describe says who holds an address:port, to the tenant that asked for it: its own exposure by
// name, another tenant's frontend without naming that tenant or its objects.
func (h bindHolder) describe(tenants []*rendered, asking *rendered) string {
	r := tenants[h.tenant]
	switch {
	case r != asking && h.grpc < 0:
		return "another tenant's HTTPS frontend"
	case r != asking:
		return "another tenant's gRPC frontend"
	case h.grpc < 0:
		return "the tenant's own HTTPS frontend"
	}
	f := r.grpc[h.grpc]
	return "exposure " + f.Namespace + "/" + f.Exposure + " of the same tenant"
}

type rendered struct {
	tenant Tenant
	vip    netip.Addr
	grpc   []GRPCFrontend // the frontends that got their bind
	https  bool           // the HTTPS frontend got its bind
	skip   []string       // frontends left out, with why
	hosts  []string       // the exact hosts the HTTPS frontend passes, valid and sorted
	nested []string       // other tenants' host domains inside this tenant's
}

// assignBinds gives every frontend its address:port, or leaves it out when the port is not
// the exposure's to take or another frontend holds it, and returns what was left out. A port
// reserved on the HAProxy hosts is never bound, and a chosen port (haproxy.grpcFrontendPort)
// must be within the tenant's FrontendPorts. Who yields is the frontend that asked for a port of
// its own choosing: first every gRPC frontend that binds its own nodePort (unique in the
// cluster), then the HTTPS frontends (by tenant), then the gRPC frontends with a chosen port,
// oldest exposure first (then by namespace and name). So an exposure that picks a port another
// frontend already binds on a shared VIP loses its own frontend, never the one that had it.
func assignBinds(tenants []*rendered, g Globals) []Skipped {
	// Who holds an address:port is described only when another frontend asks for it: a render
	// of 10,000 frontends then builds no string per frontend.
	kept := make([][]GRPCFrontend, len(tenants))
	size := len(tenants)
	for i, r := range tenants {
		kept[i] = make([]GRPCFrontend, 0, len(r.grpc))
		size += len(r.grpc)
	}
	binds := make(map[bindKey]bindHolder, size)
	var skipped []Skipped
	take := func(r *rendered, port int32, h bindHolder) (string, bool) {
		k := bindKey{r.vip, port}
		if holder, taken := binds[k]; taken {
			return holder.describe(tenants, r), false
		}
		binds[k] = h
		return "", true
	}
	skip := func(r *rendered, f GRPCFrontend, reason, msg string) {
		r.skip = append(r.skip, msg)
		skipped = append(skipped, Skipped{Tenant: r.tenant.Name, Namespace: f.Namespace, Exposure: f.Exposure, Reason: reason, Msg: msg})
	}
	tryGRPC := func(i, j int) {
		r := tenants[i]
		f := r.grpc[j]
		id := f.Namespace + "/" + f.Exposure
		chosen := f.BindPort != f.NodePort
		if res, ok := g.reserved(f.BindPort); ok {
			skip(r, f, ReasonFrontendPortNotAllowed, fmt.Sprintf("exposure %s asks for port %d on %s, which the HAProxy hosts reserve for their own services (%s): %s",
				id, f.BindPort, r.vip, res, allowedPorts(r.tenant, chosen)))
			return
		}
		if chosen && !r.tenant.FrontendPorts.Contains(f.BindPort) {
			skip(r, f, ReasonFrontendPortNotAllowed, fmt.Sprintf("exposure %s asks for port %d on %s, outside the ports its tenant may use: %s",
				id, f.BindPort, r.vip, allowedPorts(r.tenant, true)))
			return
		}
		if holder, ok := take(r, f.BindPort, bindHolder{tenant: int32(i), grpc: int32(j)}); !ok {
			skip(r, f, ReasonBindConflict, fmt.Sprintf("exposure %s asks for %s, already bound by %s: choose another haproxy.grpcFrontendPort", id, netip.AddrPortFrom(r.vip, uint16(f.BindPort)), holder))
			return
		}
		kept[i] = append(kept[i], f)
	}
	for i, r := range tenants {
		for j, f := range r.grpc {
			if f.BindPort == f.NodePort {
				tryGRPC(i, j)
			}
		}
	}
	for i, r := range tenants {
		if r.tenant.CertificatePath == "" {
			continue
		}
		if holder, ok := take(r, g.HTTPSPort, bindHolder{tenant: int32(i), grpc: -1}); !ok {
			msg := fmt.Sprintf("the HTTPS frontend asks for %s, already bound by %s: give this tenant another VIP", netip.AddrPortFrom(r.vip, uint16(g.HTTPSPort)), holder)
			r.skip = append(r.skip, msg)
			skipped = append(skipped, Skipped{Tenant: r.tenant.Name, Reason: ReasonBindConflict, Msg: msg})
			continue
		}
		r.https = true
	}
	// Chosen ports: first come, first served, whatever the tenants' names.
	type ref struct{ i, j int }
	var chosen []ref
	for i, r := range tenants {
		for j, f := range r.grpc {
			if f.BindPort != f.NodePort {
				chosen = append(chosen, ref{i, j})
			}
		}
	}
	sort.SliceStable(chosen, func(a, b int) bool {
		x, y := tenants[chosen[a].i].grpc[chosen[a].j], tenants[chosen[b].i].grpc[chosen[b].j]
		if !x.Created.Equal(y.Created) {
			return x.Created.Before(y.Created)
		}
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		return x.Exposure < y.Exposure
	})
	for _, c := range chosen {
		tryGRPC(c.i, c.j)
	}
	for i, r := range tenants {
		// Sorted as check sorted them: by port, namespace, name.
		sort.Slice(kept[i], func(a, b int) bool {
			x, y := kept[i][a], kept[i][b]
			if x.BindPort != y.BindPort {
				return x.BindPort < y.BindPort
			}
			if x.Namespace != y.Namespace {
				return x.Namespace < y.Namespace
			}
			return x.Exposure < y.Exposure
		})
		r.grpc = kept[i]
	}
	return skipped
}

// allowedPorts says which frontend ports the tenant's exposures can use.
func allowedPorts(t Tenant, chosen bool) string {
	if t.FrontendPorts == (PortRange{}) && !chosen {
		return "ask the platform team for a range of frontend ports (the tenant's spec.haproxy.grpcFrontendPorts) and set haproxy.grpcFrontendPort within it"
	}
	if t.FrontendPorts == (PortRange{}) {
		return "leave haproxy.grpcFrontendPort out (the frontend then binds the grpc nodePort); the tenant has no range of frontend ports"
	}
	if !chosen {
		return "set haproxy.grpcFrontendPort to a port in " + t.FrontendPorts.String()
	}
	return "choose a port in " + t.FrontendPorts.String() + ", or leave haproxy.grpcFrontendPort out"
}

// Parts is a rendered configuration in pieces that HAProxy loads one after the other: the
// global part first, then every tenant's part. The pieces can live in separate files (HAProxy
// reads every *.cfg of a directory in name order), so no single file grows with the cluster.
type Parts struct {
	Global  string
	Tenants []TenantPart // sorted by name
	// Skipped are the frontends left out because their address:port was taken.
	Skipped []Skipped
	// BackendSlots and IngressSlots place the nodes in the backends' server slots; they are
	// also written into Global, where ParseSlots finds them for the next render.
	BackendSlots, IngressSlots SlotTable
}

// Skipped is a frontend left out of the configuration: the bind it asks for is held by another
// frontend. Exposure is empty for a tenant's HTTPS frontend.
type Skipped struct {
	Tenant, Namespace, Exposure string
	// Reason is ReasonBindConflict or ReasonFrontendPortNotAllowed.
	Reason string
	Msg    string
}

// TenantPart is one tenant's frontends and backends.
type TenantPart struct {
	Name   string
	Config string
}

// String is the whole configuration as one file.
func (p Parts) String() string {
	n := len(p.Global)
	for _, t := range p.Tenants {
		n += len(t.Config)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(p.Global)
	for _, t := range p.Tenants {
		b.WriteString(t.Config)
	}
	return b.String()
}

// RenderParts renders the configuration in pieces (see Parts) and returns the tenants left
// out. Tenants and frontends are sorted, so the output depends on the set of inputs only,
// never on their order.
func RenderParts(in Input) (Parts, []*TenantError) {
	var errs []*TenantError
	tenants := append([]Tenant(nil), in.Tenants...)
	sort.Slice(tenants, func(i, j int) bool { return tenants[i].Name < tenants[j].Name })

	var ok []*rendered
	for _, t := range tenants {
		r, err := check(t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ok = append(ok, &r)
	}
	skipped := assignBinds(ok, in.Globals)
	nestDomains(ok)

	minSlots := in.ServerSlots
	if minSlots <= 0 {
		minSlots = DefaultSlots
	}
	backendNodes := sortedNodes(in.BackendNodes)
	ingressNodes := sortedNodes(in.IngressNodes)
	backendSlots := AssignSlots(in.BackendSlots, nodeNames(backendNodes), minSlots)
	ingressSlots := AssignSlots(in.IngressSlots, nodeNames(ingressNodes), minSlots)
	out := Parts{Global: renderGlobal(in.Globals, backendSlots, ingressSlots), Tenants: make([]TenantPart, 0, len(ok)), Skipped: skipped,
		BackendSlots: backendSlots, IngressSlots: ingressSlots}
	backend := slotted(backendNodes, backendSlots)
	ingress := slotted(ingressNodes, ingressSlots)
	for _, r := range ok {
		var b strings.Builder
		// Roughly what the tenant's part takes, so the builder grows once.
		b.Grow(1024 + 96*len(r.grpc) + 80*len(backend)*(1+len(r.grpc)/50) + 200*len(ingress))
		renderTenant(&b, *r, backend, ingress, in.Globals)
		out.Tenants = append(out.Tenants, TenantPart{Name: r.tenant.Name, Config: b.String()})
	}
	return out, errs
}

func renderGlobal(g Globals, backendSlots, ingressSlots SlotTable) string {
	var b strings.Builder
	w := func(s ...string) {
		for _, x := range s {
			b.WriteString(x)
		}
		b.WriteByte('\n')
	}
	w("# Generated by inference-exposure-operator. Do not edit: changes are overwritten.")
	w("# Nodes in the backends' server slots s1, s2, ... (the HAProxy agent moves them without a reload):")
	w(backendSlots.comment("backend"))
	w(ingressSlots.comment("ingress"))
	w("global")
	w("    log stdout format raw local0")
	w("    # Old processes keep long-lived inference streams across reloads, but not forever.")
	w("    hard-stop-after ", dur(g.HardStopAfter))
	w("    ssl-default-bind-options ssl-min-ver TLSv1.2")
	w("")
	w("defaults")
	w("    log global")
	w("    mode tcp")
	w("    option dontlognull")
	w("    option redispatch")
	w("    retries 2")
	w("    timeout connect 5s")
	w("    timeout client ", dur(g.Timeout))
	w("    timeout server ", dur(g.Timeout))
	w("    # gRPC and HTTP/2 streams stay open for as long as a model generates tokens.")
	w("    timeout tunnel ", dur(maxDur(g.Timeout, time.Hour)))
	w("    timeout client-fin 30s")
	w("    timeout server-fin 30s")
	w("    timeout http-request 10s")
	w("    timeout check 3s")
	w("    default-server inter 2s fall 2 rise 2")
	w("")
	w("frontend stats")
	w("    bind ", g.StatsBind)
	w("    mode http")
	w("    no log")
	w("    http-request use-service prometheus-exporter if { path /metrics }")
	w("    stats enable")
	w("    stats uri /stats")
	w("    stats refresh 10s")
	return b.String()
}

// grpcGroup is a set of a tenant's gRPC frontends that share one frontend and one backend:
// same timeout and same distance between the port on the VIP and the nodePort. HAProxy sends a
// connection to the port it arrived on plus that offset, so the nodes are listed once per group,
// not once per exposure. An exposure with externalTrafficPolicy Local is a group of its own.
type grpcGroup struct {
	timeout time.Duration
	offset  int32  // NodePort - BindPort
	local   string // "<namespace>_<exposure>" for a Local exposure
	fronts  []GRPCFrontend
	n       int // how many frontends the group has, while grouping
}

// suffix names the group within its tenant. A Local group's starts with "_l_", which no other
// group's can ("", "_t...", "_p...", "_m..."), and namespaces and names hold no "_": two groups
// never share a name, whatever the exposures are called.
func (g *grpcGroup) suffix() string {
	s := ""
	if g.local != "" {
		s += "_l_" + g.local
	}
	if g.timeout > 0 {
		s += "_t" + dur(g.timeout)
	}
	switch {
	case g.local != "":
	case g.offset > 0:
		s += "_p" + strconv.Itoa(int(g.offset))
	case g.offset < 0:
		s += "_m" + strconv.Itoa(int(-g.offset))
	}
	return s
}

func groupFrontends(fronts []GRPCFrontend) []*grpcGroup {
	type key struct {
		timeout time.Duration
		offset  int32
		local   string
	}
	byKey := map[key]*grpcGroup{}
	var out []*grpcGroup
	// Grouped in two passes, so that each group's frontends are copied once into a slice of
	// their number, and not at all when they form a single group.
	groupOf := make([]*grpcGroup, len(fronts))
	for i, f := range fronts {
		k := key{timeout: f.Timeout, offset: f.NodePort - f.BindPort}
		if f.Local {
			k.local = f.Namespace + "_" + f.Exposure
		}
		g := byKey[k]
		if g == nil {
			g = &grpcGroup{timeout: k.timeout, offset: k.offset, local: k.local}
			byKey[k] = g
			out = append(out, g)
		}
		groupOf[i] = g
		g.n++
	}
	if len(out) == 1 {
		out[0].fronts = fronts
	} else {
		for _, g := range out {
			g.fronts = make([]GRPCFrontend, 0, g.n)
		}
		for i, f := range fronts {
			groupOf[i].fronts = append(groupOf[i].fronts, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].suffix() < out[j].suffix() })
	return out
}

func renderTenant(b *strings.Builder, r rendered, backendNodes, ingressNodes []*Node, g Globals) {
	t := r.tenant
	w := func(s ...string) {
		for _, x := range s {
			b.WriteString(x)
		}
		b.WriteByte('\n')
	}
	w("")
	w("# tenant ", t.Name)
	for _, s := range r.skip {
		w("# skipped: ", s)
	}
	for _, grp := range groupFrontends(r.grpc) {
		name := t.Name + "_grpc" + grp.suffix()
		w("")
		w("frontend ft_", name)
		w("    mode tcp")
		for _, f := range grp.fronts {
			w("    bind ", netip.AddrPortFrom(r.vip, uint16(f.BindPort)).String(), "  # ", f.Namespace, "/", f.Exposure)
		}
		w("    log-format \"tenant=", t.Name, " ", tcpLogFormat, "\"")
		if grp.timeout > 0 {
			w("    timeout client ", dur(grp.timeout))
		}
		w("    default_backend bk_", name)
		w("")
		w("backend bk_", name)
		w("    mode tcp")
		w("    # Streams are long-lived: spread them by count, not by turn.")
		w("    balance leastconn")
		if grp.timeout > 0 {
			w("    timeout server ", dur(grp.timeout))
			// In TCP mode the tunnel timer replaces the client and server ones once the
			// connection is established: without it the exposure's idle timeout would never
			// apply (the defaults' tunnel timer, an hour or more, would).
			w("    timeout tunnel ", dur(grp.timeout))
		}
		// Nodes answer on every nodePort alike (Cluster policy): one check port stands for all.
		checkPort := strconv.Itoa(int(grp.fronts[0].NodePort))
		for i, n := range backendNodes {
			ip, state, who := slotOf(n)
			switch {
			case grp.local != "":
				w("    server s", strconv.Itoa(i+1), " ", netip.AddrPortFrom(ip, uint16(grp.fronts[0].NodePort)).String(), state, " check", who)
			case grp.offset == 0:
				w("    server s", strconv.Itoa(i+1), " ", portless(ip), state, " check port ", checkPort, who)
			default:
				w("    server s", strconv.Itoa(i+1), " ", portless(ip), ":", offset(grp.offset), state, " check port ", checkPort, who)
			}
		}
	}
	if r.https {
		w("")
		w("frontend ft_", t.Name, "_https")
		w("    bind ", netip.AddrPortFrom(r.vip, uint16(g.HTTPSPort)).String(), " ssl crt ", t.CertificatePath, " alpn h2,http/1.1")
		w("    mode http")
		w("    log-format \"tenant=", t.Name, " ", httpLogFormat, "\"")
		hostFilter(w, r)
		w("    option forwardfor")
		w("    http-request set-header X-Forwarded-Proto https")
		w("    default_backend bk_", t.Name, "_ingress")
		w("")
		w("backend bk_", t.Name, "_ingress")
		w("    mode http")
		w("    balance roundrobin")
		verify := "verify none"
		if g.IngressCAPath != "" {
			verify = "verify required ca-file " + g.IngressCAPath
		}
		for i, n := range ingressNodes {
			ip, state, who := slotOf(n)
			// SNI carries the requested host, so the ingress controller picks the route.
			w("    server s", strconv.Itoa(i+1), " ", netip.AddrPortFrom(ip, uint16(g.IngressPort)).String(), state, " ssl ", verify, " sni req.hdr(host),field(1,:) alpn h2,http/1.1 check", who)
		}
	}
}

// slotOf is what a server slot says: the node's address, " disabled" for a free slot or a node
// that is not Ready, and the node's name as a comment. A free slot's address is 0.0.0.0,
// never used: the agent sets a node's address before it enables the slot.
func slotOf(n *Node) (netip.Addr, string, string) {
	switch {
	case n == nil:
		return netip.IPv4Unspecified(), " disabled", ""
	case n.Down:
		return n.IP, " disabled", "  # " + n.Name + " (not ready)"
	default:
		return n.IP, "", "  # " + n.Name
	}
}

// slotted lines the nodes up with their slots: one entry per slot, nil when free.
func slotted(nodes []Node, t SlotTable) []*Node {
	byName := make(map[string]*Node, len(nodes))
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	out := make([]*Node, t.Size())
	for i, name := range t.Nodes {
		if name != "" {
			out[i] = byName[name]
		}
	}
	return out
}

func nodeNames(nodes []Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Name
	}
	return out
}

// portless writes a node address without a port: IPv6 in brackets, so that HAProxy does not
// read its last group as a port.
func portless(ip netip.Addr) string {
	if ip.Is6() {
		return "[" + ip.String() + "]"
	}
	return ip.String()
}

func offset(o int32) string {
	if o > 0 {
		return "+" + strconv.Itoa(int(o))
	}
	return strconv.Itoa(int(o))
}

const (
	tcpLogFormat  = `%ci:%cp [%t] %ft:%fp %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`
	httpLogFormat = `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r`
)

// check validates one tenant and sorts and de-duplicates its frontends.
func check(t Tenant) (rendered, *TenantError) {
	r := rendered{tenant: t}
	if !isDNSLabel(t.Name) {
		return r, &TenantError{t.Name, ReasonInvalidName, fmt.Sprintf("name %q is not a DNS-1123 label", t.Name)}
	}
	vip, err := netip.ParseAddr(t.VIP)
	if err != nil || vip.Zone() != "" || !vip.IsValid() || vip.IsUnspecified() || !(vip.IsGlobalUnicast() || vip.IsLoopback()) {
		return r, &TenantError{t.Name, ReasonInvalidVIP, fmt.Sprintf("spec.haproxy.vip %q is not a usable IP address", t.VIP)}
	}
	r.vip = vip.Unmap()
	if t.CertificatePath != "" && !ValidPath(t.CertificatePath) {
		return r, &TenantError{t.Name, ReasonInvalidPath, fmt.Sprintf("spec.haproxy.certificatePath %q must be an absolute path of letters, digits, '.', '_', '-' and '/'", t.CertificatePath)}
	}
	if t.HostDomain != "" && !isHostName(t.HostDomain) {
		return r, &TenantError{t.Name, ReasonInvalidName, fmt.Sprintf("hostDomain %q is not a DNS name", t.HostDomain)}
	}
	for _, h := range t.Hosts {
		if isHostName(h) && !slices.Contains(r.hosts, h) {
			r.hosts = append(r.hosts, h) // a host that is not a DNS name is never written
		}
	}
	sort.Strings(r.hosts)
	grpc := append([]GRPCFrontend(nil), t.GRPC...)
	sort.Slice(grpc, func(i, j int) bool {
		if grpc[i].BindPort != grpc[j].BindPort {
			return grpc[i].BindPort < grpc[j].BindPort
		}
		if grpc[i].Namespace != grpc[j].Namespace {
			return grpc[i].Namespace < grpc[j].Namespace
		}
		return grpc[i].Exposure < grpc[j].Exposure
	})
	for _, f := range grpc {
		id := f.Namespace + "/" + f.Exposure
		switch {
		case !isDNSLabel(f.Namespace) || !isDNSLabel(f.Exposure):
			return r, &TenantError{t.Name, ReasonInvalidName, fmt.Sprintf("exposure %q is not a pair of DNS-1123 labels", id)}
		case f.BindPort < 1 || f.BindPort > 65535 || f.NodePort < 1 || f.NodePort > 65535:
			return r, &TenantError{t.Name, ReasonInvalidPort, fmt.Sprintf("exposure %s: ports %d->%d out of range", id, f.BindPort, f.NodePort)}
		}
	}
	r.grpc = grpc
	return r, nil
}

func sortedNodes(nodes []Node) []Node {
	var out []Node
	seen := map[string]bool{}
	for _, n := range nodes {
		if !nodeNameRE.MatchString(n.Name) || !n.IP.IsValid() || n.IP.Zone() != "" || seen[n.Name] {
			continue // never written: a node name or address HAProxy could misread
		}
		seen[n.Name] = true
		out = append(out, Node{Name: n.Name, IP: n.IP.Unmap(), Down: n.Down})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// MaxTimer is the longest timeout written: HAProxy's timers overflow past 2^31-1 ms (about
// 596h), and the configuration is refused as a whole, for every tenant.
const MaxTimer = 596 * time.Hour

// dur writes a duration the way HAProxy reads it: whole milliseconds, seconds or minutes, at
// most MaxTimer.
func dur(d time.Duration) string {
	d = min(d, MaxTimer)
	switch {
	case d <= 0:
		return "0"
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	default:
		return fmt.Sprintf("%dms", (d+time.Millisecond-1)/time.Millisecond)
	}
}

func maxDur(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// Checksum is the sha256 of a rendered configuration, for the ConfigMap annotation.
func Checksum(cfg string) string {
	sum := sha256.Sum256([]byte(cfg))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// hostFilter writes the rules that keep a tenant's VIP to the tenant's own hosts: a request
// whose Host or SNI is not the tenant's is answered 421 by HAProxy and never reaches the shared
// ingress, so no tenant reaches another through its own VIP.
func hostFilter(w func(...string), r rendered) {
	domain := r.tenant.HostDomain
	if domain == "" && len(r.hosts) == 0 {
		w("    # The tenant has no hosts (no hostDomain): every request is refused.")
		w("    http-request deny deny_status 421 if TRUE")
		return
	}
	w("    # Only the tenant's hosts pass its VIP: any other Host or SNI is answered 421 here.")
	for _, fetch := range []struct{ acl, sample string }{{"own_host", "req.hdr(host),field(1,:),lower"}, {"own_sni", "ssl_fc_sni,lower"}} {
		if domain != "" {
			w("    acl ", fetch.acl, " ", fetch.sample, " -m end .", domain)
		}
		if len(r.hosts) > 0 {
			w("    acl ", fetch.acl, " ", fetch.sample, " -m str ", strings.Join(r.hosts, " "))
		}
	}
	deny := "!own_host || { ssl_fc_sni -m found } !own_sni"
	if len(r.nested) > 0 {
		for _, n := range r.nested {
			w("    acl other_tenant req.hdr(host),field(1,:),lower -m end .", n)
			w("    acl other_tenant ssl_fc_sni,lower -m end .", n)
		}
		deny += " || other_tenant"
	}
	w("    http-request deny deny_status 421 if ", deny)
}

// nestDomains notes, for every tenant, the other tenants' host domains that lie inside its own:
// those hosts belong to the more specific tenant, not to this one.
func nestDomains(tenants []*rendered) {
	for _, r := range tenants {
		d := r.tenant.HostDomain
		if d == "" {
			continue
		}
		for _, o := range tenants {
			od := o.tenant.HostDomain
			if o != r && od != "" && strings.HasSuffix(od, "."+d) && !slices.Contains(r.nested, od) {
				r.nested = append(r.nested, od)
			}
		}
		sort.Strings(r.nested)
	}
}

// isHostName reports whether h is a lowercase DNS name HAProxy can match as one word.
func isHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if !isDNSLabel(label) {
			return false
		}
	}
	return true
}
