package haproxy

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inference-exposure/inference-exposure-operator/internal/render/golden"
	"github.com/inference-exposure/inference-exposure-operator/internal/testsupport"
)

func node(name, ip string) Node { return Node{Name: name, IP: netip.MustParseAddr(ip)} }

// seedInput is the recipe's haproxy.cfg: tenant alpha on VIP 10.0.100.10, gRPC 8001 to NodePort
// 30801 on two GPU nodes, HTTPS to two ingress nodes.
func seedInput() Input {
	return Input{
		Tenants: []Tenant{{
			Name: "alpha", VIP: "10.0.100.10", CertificatePath: "/etc/haproxy/certs/alpha.pem",
			GRPC:          []GRPCFrontend{{Namespace: "tenant-alpha", Exposure: "triton", BindPort: 8001, NodePort: 30801}},
			FrontendPorts: PortRange{8000, 8099},
			HostDomain:    "alpha.apps.example.com",
		}},
		BackendNodes: []Node{node("gpu-2", "10.0.1.102"), node("gpu-1", "10.0.1.101")},
		IngressNodes: []Node{node("ingress-1", "10.0.1.201"), node("ingress-2", "10.0.1.202")},
		Globals:      Globals{IngressPort: 443, HTTPSPort: 443, StatsBind: ":8404", Timeout: 300 * time.Second, HardStopAfter: 30 * time.Minute},
	}
}

func twoTenants() Input {
	in := seedInput()
	in.IngressCAPath = "/etc/haproxy/ca/ingress-ca.pem"
	in.Tenants = append(in.Tenants, Tenant{
		Name: "beta", VIP: "10.0.100.11", HostDomain: "beta.alpha.apps.example.com",
		GRPC: []GRPCFrontend{
			{Namespace: "tenant-beta", Exposure: "vllm", BindPort: 30900, NodePort: 30900, Timeout: 10 * time.Minute},
			{Namespace: "tenant-beta", Exposure: "tgi", BindPort: 30903, NodePort: 30903},
			{Namespace: "tenant-beta", Exposure: "nim", BindPort: 30906, NodePort: 30906, Local: true},
		},
	})
	return in
}

func TestGolden(t *testing.T) {
	for name, in := range map[string]Input{
		"seed-alpha.cfg":  seedInput(),
		"two-tenants.cfg": twoTenants(),
		"no-nodes.cfg": func() Input {
			in := seedInput()
			in.BackendNodes, in.IngressNodes = nil, nil
			return in
		}(),
		"empty.cfg": {Globals: Globals{StatsBind: "127.0.0.1:8404", Timeout: time.Minute, HardStopAfter: time.Minute, IngressPort: 443, HTTPSPort: 443}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, errs := render(in)
			if len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			golden.Check(t, name, cfg)
		})
	}
}

func TestDeterministic(t *testing.T) {
	a := twoTenants()
	b := twoTenants()
	b.Tenants[0], b.Tenants[1] = b.Tenants[1], b.Tenants[0]
	b.Tenants[0].GRPC[0], b.Tenants[0].GRPC[1] = b.Tenants[0].GRPC[1], b.Tenants[0].GRPC[0]
	b.BackendNodes[0], b.BackendNodes[1] = b.BackendNodes[1], b.BackendNodes[0]
	ca, _ := render(a)
	cb, _ := render(b)
	if ca != cb || Checksum(ca) != Checksum(cb) {
		t.Fatal("input order changed the output")
	}
}

// TestCompact: exposures that share a timeout and a port offset share one backend, so the nodes
// are listed once per tenant, not once per exposure; the file grows by a bind line per exposure.
func TestCompact(t *testing.T) {
	in := largeInput(1, 100)
	parts, errs := RenderParts(in)
	if len(errs) > 0 || len(parts.Tenants) != 1 {
		t.Fatal(errs)
	}
	cfg := parts.Tenants[0].Config
	// Two timeouts among the exposures: two backends, each listing every node once, in the
	// slots: 50 nodes take 64 (50 plus a quarter, rounded up to 8), plus 4 ingress slots' worth.
	if n := strings.Count(cfg, " check port "); n != 2*64 {
		t.Errorf("%d GPU server lines for 100 exposures in 2 timeout groups on %d nodes, want 2 x 64 slots", n, len(in.BackendNodes))
	}
	if n := strings.Count(cfg, "  # gpu-"); n != 2*len(in.BackendNodes) {
		t.Errorf("%d GPU nodes in the slots, want 2 per node", n)
	}
	if n := strings.Count(cfg, "\n    bind "); n != 101 {
		t.Errorf("%d bind lines, want 100 gRPC + 1 HTTPS", n)
	}
	if parts.String() != parts.Global+cfg {
		t.Error("Parts.String is not the global part followed by the tenants'")
	}
}

func TestRejections(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tenant Tenant
		reason string
	}{
		{"vip is a name", Tenant{Name: "x", VIP: "haproxy.example.com"}, ReasonInvalidVIP},
		{"vip with newline", Tenant{Name: "x", VIP: "10.0.0.1\nbackend evil"}, ReasonInvalidVIP},
		{"vip unspecified", Tenant{Name: "x", VIP: "0.0.0.0"}, ReasonInvalidVIP},
		{"vip with zone", Tenant{Name: "x", VIP: "fe80::1%eth0"}, ReasonInvalidVIP},
		{"vip multicast", Tenant{Name: "x", VIP: "224.0.0.1"}, ReasonInvalidVIP},
		{"vip broadcast", Tenant{Name: "x", VIP: "255.255.255.255"}, ReasonInvalidVIP},
		{"vip IPv6 multicast", Tenant{Name: "x", VIP: "ff02::1"}, ReasonInvalidVIP},
		{"path with space", Tenant{Name: "x", VIP: "10.0.0.1", CertificatePath: "/etc/a b.pem"}, ReasonInvalidPath},
		{"relative path", Tenant{Name: "x", VIP: "10.0.0.1", CertificatePath: "certs/a.pem"}, ReasonInvalidPath},
		{"path with newline", Tenant{Name: "x", VIP: "10.0.0.1", CertificatePath: "/a.pem\n    stats enable"}, ReasonInvalidPath},
		{"path with dot-dot", Tenant{Name: "x", VIP: "10.0.0.1", CertificatePath: "/etc/../root/key.pem"}, ReasonInvalidPath},
		{"bad tenant name", Tenant{Name: "X y", VIP: "10.0.0.1"}, ReasonInvalidName},
		{"bad exposure name", Tenant{Name: "x", VIP: "10.0.0.1", GRPC: []GRPCFrontend{{Namespace: "ns", Exposure: "a\nb", BindPort: 1, NodePort: 1}}}, ReasonInvalidName},
		{"bad port", Tenant{Name: "x", VIP: "10.0.0.1", GRPC: []GRPCFrontend{{Namespace: "ns", Exposure: "e", BindPort: 70000, NodePort: 1}}}, ReasonInvalidPort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := seedInput()
			in.Tenants = append(in.Tenants, tc.tenant)
			cfg, errs := render(in)
			if len(errs) != 1 || errs[0].Reason != tc.reason {
				t.Fatalf("errs = %v, want one %s", errs, tc.reason)
			}
			if !strings.Contains(cfg, "ft_alpha_https") {
				t.Fatal("the valid tenant was dropped too")
			}
			if strings.Contains(cfg, "tenant "+tc.tenant.Name+"\n") && tc.reason != ReasonInvalidName {
				t.Fatal("rejected tenant rendered")
			}
		})
	}
}

func TestBindConflicts(t *testing.T) {
	in := seedInput()
	in.Tenants = append(in.Tenants, Tenant{Name: "beta", VIP: "10.0.100.10", CertificatePath: "/etc/haproxy/certs/beta.pem",
		GRPC: []GRPCFrontend{{Namespace: "tenant-beta", Exposure: "vllm", BindPort: 30900, NodePort: 30900}}})
	in.Tenants[0].GRPC = append(in.Tenants[0].GRPC, GRPCFrontend{Namespace: "tenant-alpha", Exposure: "other", BindPort: 8001, NodePort: 30805})
	parts, errs := RenderParts(in)
	cfg := parts.String()
	if len(errs) != 0 {
		t.Fatalf("errs = %v", errs)
	}
	// beta loses only its HTTPS frontend (alpha's holds vip:443), not its gRPC one.
	if strings.Contains(cfg, "beta.pem") || !strings.Contains(cfg, "bind 10.0.100.10:30900") || !strings.Contains(cfg, "alpha.pem") {
		t.Fatalf("wrong frontends kept:\n%s", cfg)
	}
	if strings.Count(cfg, "bind 10.0.100.10:8001") != 1 || !strings.Contains(cfg, "# skipped: exposure tenant-alpha/triton asks for 10.0.100.10:8001") {
		t.Fatalf("duplicate bind not skipped:\n%s", cfg)
	}
	// Each says what holds the address:port it asked for.
	want := map[string]string{
		"beta/":        "the HTTPS frontend asks for 10.0.100.10:443, already bound by another tenant's HTTPS frontend: give this tenant another VIP",
		"alpha/triton": "exposure tenant-alpha/triton asks for 10.0.100.10:8001, already bound by exposure tenant-alpha/other of the same tenant: choose another haproxy.grpcFrontendPort",
	}
	for _, sk := range parts.Skipped {
		if w, ok := want[sk.Tenant+"/"+sk.Exposure]; !ok || sk.Msg != w {
			t.Fatalf("skip %+v\nwant message %q", sk, w)
		}
		delete(want, sk.Tenant+"/"+sk.Exposure)
	}
	if len(want) != 0 {
		t.Fatalf("not reported: %v", want)
	}
}

// TestBindConflictCostsTheOffender: a tenant that picks, on a shared VIP, the port another
// tenant's exposure binds by default loses that frontend itself, even though its name sorts
// first; the victim keeps everything.
func TestBindConflictCostsTheOffender(t *testing.T) {
	in := seedInput()
	in.Tenants[0].GRPC = nil
	in.Tenants = append(in.Tenants,
		Tenant{Name: "aaa", VIP: "10.0.100.20", GRPC: []GRPCFrontend{{Namespace: "aaa-ns", Exposure: "grab", BindPort: 30950, NodePort: 30001}}, FrontendPorts: PortRange{30000, 30999}},
		Tenant{Name: "victim", VIP: "10.0.100.20", GRPC: []GRPCFrontend{{Namespace: "victim-ns", Exposure: "llm", BindPort: 30950, NodePort: 30950}}})
	parts, errs := RenderParts(in)
	if len(errs) != 0 || len(parts.Skipped) != 1 || parts.Skipped[0].Tenant != "aaa" || parts.Skipped[0].Exposure != "grab" {
		t.Fatalf("errs %v, skipped %+v", errs, parts.Skipped)
	}
	cfg := parts.String()
	if !strings.Contains(cfg, "bind 10.0.100.20:30950  # victim-ns/llm") || strings.Contains(cfg, "aaa-ns/grab\n") {
		t.Fatalf("the victim lost its frontend:\n%s", cfg)
	}
	haproxyCheck(t, strings.ReplaceAll(cfg, "/etc/haproxy/certs/alpha.pem", writeCert(t)))
}

// haproxyCheck runs `haproxy -c` on cfg, or skips when haproxy is not installed.
func haproxyCheck(t *testing.T, cfg string) {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install -y haproxy; .ci/run does it): skipping the check by the real haproxy")
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c refused the configuration: %v\n%s\n%s", err, out, cfg)
	}
	if strings.Contains(string(out), "[WARNING]") || strings.Contains(string(out), "[ALERT]") {
		t.Fatalf("haproxy -c warns about the configuration:\n%s", out)
	}
}

// TestHAProxyAcceptsRenderedConfigs renders representative configurations with throw-away
// certificates at the referenced paths and has the real haproxy check them.
func TestHAProxyAcceptsRenderedConfigs(t *testing.T) {
	dir := t.TempDir()
	pki := testsupport.NewPKI(t)
	alphaPEM := filepath.Join(dir, "alpha.pem")
	betaPEM := filepath.Join(dir, "beta.pem")
	caPEM := filepath.Join(dir, "ingress-ca.pem")
	pki.WriteServerPEM(t, alphaPEM, "inference-alpha.example.com")
	pki.WriteServerPEM(t, betaPEM, "inference-beta.example.com")
	pki.WriteCA(t, caPEM)

	for name, in := range map[string]Input{
		"seed":        seedInput(),
		"two tenants": twoTenants(),
		"no nodes": func() Input {
			in := seedInput()
			in.BackendNodes, in.IngressNodes = nil, nil
			return in
		}(),
		"timeouts beyond HAProxy's timers are clamped": func() Input {
			in := twoTenants()
			in.Timeout = 1000 * time.Hour
			in.Tenants[1].GRPC[0].Timeout = 600 * time.Hour
			return in
		}(),
		"ipv6": func() Input {
			in := twoTenants()
			in.Tenants[1].VIP = "fd00::10"
			in.BackendNodes = append(in.BackendNodes, node("gpu-v6", "fd00::101"))
			return in
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			for i := range in.Tenants {
				switch in.Tenants[i].Name {
				case "alpha":
					in.Tenants[i].CertificatePath = alphaPEM
				case "beta":
					in.Tenants[i].CertificatePath = betaPEM
				}
			}
			if in.IngressCAPath != "" {
				in.IngressCAPath = caPEM
			}
			cfg, errs := render(in)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			haproxyCheck(t, cfg)
		})
	}
}

func TestValidBind(t *testing.T) {
	for b, want := range map[string]bool{":8404": true, "127.0.0.1:8404": true, "[::1]:8404": true, ":0": false, ":08": false, "x:1": false, ":8404\nbind": false, "": false} {
		if ValidBind(b) != want {
			t.Errorf("ValidBind(%q) = %v", b, !want)
		}
	}
}

func TestDurClamped(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0", 1500 * time.Millisecond: "1500ms", 300 * time.Second: "5m", 600 * time.Hour: "35760m", 168 * time.Hour: "10080m"} {
		if got := dur(d); got != want {
			t.Errorf("dur(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestIsDNSLabel(t *testing.T) {
	for s, want := range map[string]bool{"a": true, "tenant-alpha": true, "0a": true, strings.Repeat("a", 63): true,
		"": false, "-a": false, "a-": false, "A": false, "a_b": false, "a.b": false, "a b": false, strings.Repeat("a", 64): false, "a\n": false} {
		if got := isDNSLabel(s); got != want {
			t.Errorf("isDNSLabel(%q) = %v, want %v", s, got, want)
		}
	}
}

// writeCert writes a throw-away server certificate for haproxy -c and returns its path.
func writeCert(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cert.pem")
	testsupport.NewPKI(t).WriteServerPEM(t, path, "inference.example.com")
	return path
}

// TestFrontendPortPolicy: a port the HAProxy hosts reserve is never bound, a chosen port must be
// within the tenant's range, and of two exposures that choose the same port on a shared VIP the
// older keeps it, whatever their tenants' names.
func TestFrontendPortPolicy(t *testing.T) {
	early, late := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		tenants  []Tenant
		skipped  string // namespace/exposure left out, "" for none
		reason   string
		msg      string // a part of the message
		bound    string // a bind line that must be there
		reserved []PortRange
	}{
		{
			name:    "the kubelet's port",
			tenants: []Tenant{{Name: "beta", VIP: "10.0.100.11", FrontendPorts: PortRange{1, 65535}, GRPC: []GRPCFrontend{{Namespace: "b", Exposure: "evil", BindPort: 10250, NodePort: 30900}}}},
			skipped: "b/evil", reason: ReasonFrontendPortNotAllowed, msg: "port 10250 on 10.0.100.11, which the HAProxy hosts reserve for their own services (10248-10260)",
			reserved: DefaultReservedPorts,
		},
		{
			name:    "sshd's port, through a reserved nodePort",
			tenants: []Tenant{{Name: "beta", VIP: "10.0.100.11", FrontendPorts: PortRange{8000, 8099}, GRPC: []GRPCFrontend{{Namespace: "b", Exposure: "ssh", BindPort: 22, NodePort: 22}}}},
			skipped: "b/ssh", reason: ReasonFrontendPortNotAllowed, msg: "(22): set haproxy.grpcFrontendPort to a port in 8000-8099",
			reserved: DefaultReservedPorts,
		},
		{
			name:    "outside the tenant's range",
			tenants: []Tenant{{Name: "beta", VIP: "10.0.100.11", FrontendPorts: PortRange{30900, 30999}, GRPC: []GRPCFrontend{{Namespace: "b", Exposure: "e", BindPort: 9000, NodePort: 30900}}}},
			skipped: "b/e", reason: ReasonFrontendPortNotAllowed, msg: "outside the ports its tenant may use: choose a port in 30900-30999, or leave haproxy.grpcFrontendPort out",
		},
		{
			name:    "no range at all",
			tenants: []Tenant{{Name: "beta", VIP: "10.0.100.11", GRPC: []GRPCFrontend{{Namespace: "b", Exposure: "e", BindPort: 9000, NodePort: 30900}}}},
			skipped: "b/e", reason: ReasonFrontendPortNotAllowed, msg: "the tenant has no range of frontend ports",
		},
		{
			name: "first come, first served on a shared VIP",
			tenants: []Tenant{
				{Name: "alpha", VIP: "10.0.100.20", FrontendPorts: PortRange{9000, 9199}, GRPC: []GRPCFrontend{{Namespace: "a", Exposure: "evict", BindPort: 9100, NodePort: 30001, Created: late}}},
				{Name: "beta", VIP: "10.0.100.20", FrontendPorts: PortRange{9000, 9199}, GRPC: []GRPCFrontend{{Namespace: "b", Exposure: "victim", BindPort: 9100, NodePort: 30901, Created: early}}},
			},
			skipped: "a/evict", reason: ReasonBindConflict, msg: "already bound by another tenant's gRPC frontend", bound: "bind 10.0.100.20:9100  # b/victim",
		},
		{
			name:    "within the range and not reserved",
			tenants: []Tenant{{Name: "beta", VIP: "10.0.100.11", FrontendPorts: PortRange{8000, 8099}, GRPC: []GRPCFrontend{{Namespace: "b", Exposure: "e", BindPort: 8001, NodePort: 30900}}}},
			bound:   "bind 10.0.100.11:8001  # b/e", reserved: DefaultReservedPorts,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := seedInput()
			in.Tenants = append(in.Tenants[:0], tc.tenants...)
			in.ReservedPorts = tc.reserved
			parts, errs := RenderParts(in)
			if len(errs) != 0 {
				t.Fatalf("errs %v", errs)
			}
			cfg := parts.String()
			if tc.skipped == "" {
				if len(parts.Skipped) != 0 {
					t.Fatalf("skipped %+v", parts.Skipped)
				}
			} else {
				if len(parts.Skipped) != 1 || parts.Skipped[0].Namespace+"/"+parts.Skipped[0].Exposure != tc.skipped || parts.Skipped[0].Reason != tc.reason || !strings.Contains(parts.Skipped[0].Msg, tc.msg) {
					t.Fatalf("skipped %+v, want %s with %s and %q", parts.Skipped, tc.skipped, tc.reason, tc.msg)
				}
				if strings.Contains(cfg, "  # "+tc.skipped+"\n") {
					t.Fatalf("%s is still bound:\n%s", tc.skipped, cfg)
				}
			}
			if tc.bound != "" && !strings.Contains(cfg, tc.bound) {
				t.Fatalf("no %q in:\n%s", tc.bound, cfg)
			}
		})
	}
}

// render is the whole haproxy.cfg of in, as a directory of all its parts loads.
func render(in Input) (string, []*TenantError) {
	p, errs := RenderParts(in)
	return p.String(), errs
}
