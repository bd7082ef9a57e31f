package haproxy

import (
	"net/netip"
	"strings"
	"testing"
)

var allowedDirectives = map[string]bool{
	"log": true, "maxconn": true, "hard-stop-after": true, "ssl-default-bind-options": true,
	"mode": true, "option": true, "retries": true, "timeout": true, "default-server": true,
	"bind": true, "no": true, "http-request": true, "stats": true, "log-format": true,
	"default_backend": true, "balance": true, "server": true, "acl": true,
}

// FuzzRender feeds arbitrary strings into every field a custom resource controls and checks
// that accepted input never adds a section or a directive: the structure of the output is
// fully determined by how many tenants and frontends were accepted.
func FuzzRender(f *testing.F) {
	f.Add("alpha", "10.0.100.10", "/etc/haproxy/certs/alpha.pem", "tenant-alpha", "triton", "gpu-1", int32(8001), int32(30801))
	f.Add("a\nbackend x", "10.0.0.1\n", "/a b", "ns", "e", "n", int32(1), int32(2))
	f.Add("beta", "fd00::1", "", "ns", "exp", "node.example.com", int32(443), int32(30000))
	f.Fuzz(func(t *testing.T, tenant, vip, cert, ns, exp, nodeName string, bindPort, nodePort int32) {
		in := seedInput()
		if tenant == in.Tenants[0].Name {
			return // tenant names are unique in a cluster
		}
		in.Tenants = append(in.Tenants, Tenant{
			Name: tenant, VIP: vip, CertificatePath: cert, Hosts: []string{nodeName, exp + "." + ns},
			GRPC: []GRPCFrontend{{Namespace: ns, Exposure: exp, BindPort: bindPort, NodePort: nodePort}},
		})
		if ip, err := netip.ParseAddr(vip); err == nil {
			in.BackendNodes = append(in.BackendNodes, Node{Name: nodeName, IP: ip})
			in.IngressNodes = append(in.IngressNodes, Node{Name: nodeName, IP: ip})
		}
		parts, errs := RenderParts(in)
		cfg := parts.String()

		// Every tenant here has one gRPC frontend at most, so one group each.
		sections := 3 // global, defaults, stats
		rejected := map[string]bool{}
		for _, e := range errs {
			rejected[e.Tenant] = true
		}
		for _, tn := range in.Tenants {
			if rejected[tn.Name] {
				continue
			}
			sections += 2 * len(tn.GRPC)
			if tn.CertificatePath != "" {
				sections += 2
			}
		}
		sections -= 2 * len(parts.Skipped) // a frontend left out has no backend either
		got := 0
		for _, line := range strings.Split(cfg, "\n") {
			switch {
			case line == "" || strings.HasPrefix(line, "# "):
			case !strings.HasPrefix(line, " "):
				got++
				if !(line == "global" || line == "defaults" || strings.HasPrefix(line, "frontend ") || strings.HasPrefix(line, "backend ")) {
					t.Fatalf("unexpected top-level line %q\n%s", line, cfg)
				}
				if strings.Count(line, " ") > 1 {
					t.Fatalf("section name with a space: %q", line)
				}
			default:
				fields := strings.Fields(line)
				if strings.HasPrefix(fields[0], "#") {
					continue
				}
				if !allowedDirectives[fields[0]] {
					t.Fatalf("unexpected directive %q\n%s", line, cfg)
				}
			}
		}
		if got != sections {
			t.Fatalf("%d sections, want %d (errs %v)\n%s", got, sections, errs, cfg)
		}
		for _, line := range strings.Split(cfg, "\n") {
			if strings.ContainsAny(line, "\r\x00") {
				t.Fatalf("control character in %q", line)
			}
		}
	})
}
