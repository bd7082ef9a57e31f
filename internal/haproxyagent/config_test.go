package haproxyagent

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
)

func nodes(n int, third byte) []haproxy.Node {
	out := make([]haproxy.Node, n)
	for i := range out {
		out[i] = haproxy.Node{Name: fmt.Sprintf("node-%d-%02d", third, i), IP: netip.AddrFrom4([4]byte{10, 0, third, byte(i + 1)})}
	}
	return out
}

// cluster is tenants x perTenant gRPC exposures (every fifth with its own timeout: a second
// backend per tenant), an HTTPS frontend per tenant, gpus GPU nodes and 3 ingress nodes.
func cluster(tenants, perTenant, gpus int) haproxy.Input {
	in := haproxy.Input{
		BackendNodes: nodes(gpus, 1), IngressNodes: nodes(3, 2),
		Globals: haproxy.Globals{IngressPort: 443, HTTPSPort: 443, StatsBind: ":8404", Timeout: 5 * time.Minute, HardStopAfter: 30 * time.Minute},
	}
	for t := range tenants {
		tn := haproxy.Tenant{Name: fmt.Sprintf("tenant-%03d", t), VIP: netip.AddrFrom4([4]byte{10, 0, 100 + byte(t/250), byte(t%250 + 1)}).String(), CertificatePath: fmt.Sprintf("/etc/haproxy/certs/t%d.pem", t)}
		for e := range perTenant {
			np := int32(30000 + t*perTenant + e)
			f := haproxy.GRPCFrontend{Namespace: "ns", Exposure: fmt.Sprintf("model-%d", e), BindPort: np, NodePort: np}
			if e%5 == 4 {
				f.Timeout = 10 * time.Minute
			}
			tn.GRPC = append(tn.GRPC, f)
		}
		in.Tenants = append(in.Tenants, tn)
	}
	return in
}

// render renders in (with the slot tables of prev, as the operator does) into files.
func render(t testing.TB, in haproxy.Input, prev *haproxy.Parts) (haproxy.Parts, []File) {
	t.Helper()
	if prev != nil {
		in.BackendSlots, in.IngressSlots = prev.BackendSlots, prev.IngressSlots
	}
	parts, errs := haproxy.RenderParts(in)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	files := []File{{Name: "00-global.cfg", Data: parts.Global}}
	for i, tp := range parts.Tenants {
		files = append(files, File{Name: fmt.Sprintf("shard-%02d.cfg", i%16), Data: tp.Config})
	}
	// Tenants that share a shard share its file.
	merged := map[string]string{}
	for _, f := range files {
		merged[f.Name] += f.Data
	}
	files = files[:0]
	for name, data := range merged {
		files = append(files, File{Name: name, Data: data})
	}
	return parts, files
}

// running is the state a worker loaded from c has.
func running(c Config) map[string]ServerState {
	out := map[string]ServerState{}
	for _, s := range c.Servers {
		out[s.Key()] = ServerState{Addr: s.Addr, Maint: s.Disabled}
	}
	return out
}

func backends(c Config) int {
	n := 0
	for _, h := range c.Order {
		if strings.HasPrefix(h, "backend ") {
			n++
		}
	}
	return n
}

func TestReloadOnlyWhenTheShapeChanges(t *testing.T) {
	base := cluster(3, 10, 4)
	prev, files := render(t, base, nil)
	live := Parse(files)
	nBackends := backends(live)
	gpuBackends := nBackends - 3 // one ingress backend per tenant
	for _, tc := range []struct {
		name     string
		change   func(in *haproxy.Input)
		reason   string
		commands int
	}{
		{"nothing", func(*haproxy.Input) {}, "", 0},
		{"a GPU node joins: its address and ready, once per gRPC backend", func(in *haproxy.Input) {
			in.BackendNodes = append(in.BackendNodes, haproxy.Node{Name: "gpu-new", IP: netip.MustParseAddr("10.0.1.99")})
		}, "", 2 * gpuBackends},
		{"a GPU node leaves: maintenance, once per gRPC backend", func(in *haproxy.Input) { in.BackendNodes = in.BackendNodes[1:] }, "", gpuBackends},
		{"a GPU node turns NotReady", func(in *haproxy.Input) { in.BackendNodes[2].Down = true }, "", gpuBackends},
		{"a GPU node changes its address", func(in *haproxy.Input) { in.BackendNodes[0].IP = netip.MustParseAddr("10.0.9.9") }, "", gpuBackends},
		{"an ingress node joins", func(in *haproxy.Input) {
			in.IngressNodes = append(in.IngressNodes, haproxy.Node{Name: "ingress-new", IP: netip.MustParseAddr("10.0.2.99")})
		}, "", 2 * 3},
		{"an exposure is added: a bind", func(in *haproxy.Input) {
			in.Tenants[1].GRPC = append(in.Tenants[1].GRPC, haproxy.GRPCFrontend{Namespace: "ns", Exposure: "new", BindPort: 31999, NodePort: 31999})
		}, ReasonFrontend, 0},
		{"a tenant's certificate path", func(in *haproxy.Input) { in.Tenants[0].CertificatePath = "/etc/haproxy/certs/other.pem" }, ReasonFrontend, 0},
		{"a global timeout", func(in *haproxy.Input) { in.Timeout = time.Minute }, ReasonGlobal, 0},
		{"an exposure with a new timeout: a new backend", func(in *haproxy.Input) { in.Tenants[0].GRPC[0].Timeout = time.Hour }, ReasonFrontend, 0},
		{"more nodes than slots", func(in *haproxy.Input) { in.BackendNodes = nodes(20, 1) }, ReasonSlots, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := cluster(3, 10, 4)
			tc.change(&in)
			_, files := render(t, in, &prev)
			desired := Parse(files)
			if got := ReloadReason(live, desired); got != tc.reason {
				t.Fatalf("reload reason %q, want %q", got, tc.reason)
			}
			if tc.reason != "" {
				return
			}
			cmds, err := Commands(desired.Servers, running(live))
			if err != nil {
				t.Fatal(err)
			}
			if len(cmds) != tc.commands {
				t.Fatalf("%d commands, want %d:\n%s", len(cmds), tc.commands, strings.Join(cmds, "\n"))
			}
			// Applied, the running state is the desired one.
			after := running(live)
			for _, c := range cmds {
				f := strings.Fields(c)
				s := after[f[2]]
				switch f[3] {
				case "addr":
					s.Addr = netip.MustParseAddr(f[4])
				case "state":
					s.Maint = f[4] == "maint"
				}
				after[f[2]] = s
			}
			if left, _ := Commands(desired.Servers, after); len(left) > 0 {
				t.Fatalf("still to do: %v", left)
			}
		})
	}
}

func TestCommandsOrderAndMissingServers(t *testing.T) {
	desired := []Server{{Backend: "bk", Name: "s1", Addr: netip.MustParseAddr("10.0.0.5")}, {Backend: "bk", Name: "s2", Addr: netip.IPv4Unspecified(), Disabled: true}}
	got, err := Commands(desired, map[string]ServerState{
		"bk/s1": {Addr: netip.IPv4Unspecified(), Maint: true},
		"bk/s2": {Addr: netip.MustParseAddr("10.0.0.4")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"set server bk/s1 addr 10.0.0.5", "set server bk/s1 state ready", "set server bk/s2 state maint"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := Commands(desired, map[string]ServerState{"bk/s1": {}}); err == nil {
		t.Fatal("a server the running HAProxy lacks must be an error (it needs a reload)")
	}
}

func TestParse(t *testing.T) {
	c := Parse([]File{
		{Name: "b.cfg", Data: "backend bk\n    server s1 [fd00::1]:+10 check port 30801  # gpu-1\n    server s2 0.0.0.0 disabled check\n    server dns example.com:80 check\n"},
		{Name: "a.cfg", Data: "# header\nglobal\n    log stdout format raw local0\n\nfrontend ft\n    bind 10.0.0.1:443 ssl crt /certs/a.pem alpn h2  # tenant\n    log-format \"a # not a comment\"\n"},
	})
	if !slices.Equal(c.Order, []string{"global", "frontend ft", "backend bk"}) {
		t.Fatalf("sections %q", c.Order)
	}
	want := []Server{{Backend: "bk", Name: "s1", Addr: netip.MustParseAddr("fd00::1")}, {Backend: "bk", Name: "s2", Addr: netip.IPv4Unspecified(), Disabled: true}}
	if !slices.Equal(c.Servers, want) {
		t.Fatalf("servers %+v", c.Servers)
	}
	if got := c.Sections["backend bk"]; got != "server s1 <addr>:+10 check port 30801\nserver s2 <addr> check\nserver dns example.com:80 check\n" {
		t.Fatalf("backend shape %q", got)
	}
	if got := c.Sections["frontend ft"]; !strings.Contains(got, `log-format "a # not a comment"`) {
		t.Fatalf("a quoted # was taken for a comment: %q", got)
	}
	if !slices.Equal(c.Files, []string{"/certs/a.pem"}) {
		t.Fatalf("files %q", c.Files)
	}
}

func TestParseServersState(t *testing.T) {
	out := `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
2 bk 1 s1 127.0.0.2 0 1 1 1 620 8 2 0 14 0 0 0 - 100 - 0 18101 - - 18101
2 bk 2 s2 127.0.0.4 0 4 1 1 616 8 2 0 6 0 0 0 - 100 - 0 18101 - - 18101
2 bk 3 s3 ::1 0 5 1 1 620 1 0 0 14 0 0 0 - 100 - 0 18101 - - 18101
2 bk 4 s4 127.0.0.3 2 0 1 1 620 1 0 0 14 0 0 0 - 18101 - 0 0 - - 0
`
	got, err := parseServersState(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ServerState{
		"bk/s1": {Addr: netip.MustParseAddr("127.0.0.2"), Maint: true}, // forced maintenance
		"bk/s2": {Addr: netip.MustParseAddr("127.0.0.4")},              // disabled in the file, enabled at runtime
		"bk/s3": {Addr: netip.MustParseAddr("::1"), Maint: true},       // disabled in the file
		"bk/s4": {Addr: netip.MustParseAddr("127.0.0.3")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	for _, bad := range []string{"", "Unknown command\n", "1\n2 bk 1\n"} {
		if _, err := parseServersState(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	_, files := render(f, cluster(2, 3, 3), nil)
	for _, file := range files {
		f.Add(file.Data)
	}
	f.Fuzz(func(t *testing.T, data string) {
		c := Parse([]File{{Name: "a.cfg", Data: data}})
		if len(running(c)) != len(c.Servers) {
			return // two servers of one name: haproxy -c refuses it, nothing runs it
		}
		if ReloadReason(c, c) != "" {
			t.Fatal("a configuration differs from itself")
		}
		if cmds, err := Commands(c.Servers, running(c)); err != nil || len(cmds) > 0 {
			t.Fatalf("commands against its own state: %v %v", cmds, err)
		}
	})
}

// BenchmarkDiff10k: what the agent does with a node join at 10,000 exposures x 50 nodes: read
// both configurations, compare their shapes, and compute the runtime commands.
func BenchmarkDiff10k(b *testing.B) {
	in := cluster(200, 50, 50)
	prev, before := render(b, in, nil)
	in.BackendNodes = append(in.BackendNodes, haproxy.Node{Name: "gpu-new", IP: netip.MustParseAddr("10.0.1.200")})
	_, after := render(b, in, &prev)
	live := Parse(before)
	state := running(live)
	size := 0
	for _, f := range after {
		size += len(f.Data)
	}
	b.ReportMetric(float64(size), "cfg-bytes")
	b.ReportAllocs()
	var cmds []string
	for b.Loop() {
		desired := Parse(after)
		if ReloadReason(live, desired) != "" {
			b.Fatal("a node join needs a reload")
		}
		cmds, _ = Commands(desired.Servers, state)
	}
	b.ReportMetric(float64(len(cmds)), "commands")
}

// TestOneNodeCommandsDoNotGrowWithExposures: the commands for one node joining are two per
// backend that node serves, whether the other tenants have 10 or 50 exposures each.
func TestOneNodeCommandsDoNotGrowWithExposures(t *testing.T) {
	count := func(perTenant int) (int, int) {
		in := cluster(20, perTenant, 10)
		prev, before := render(t, in, nil)
		in.BackendNodes = append(in.BackendNodes, haproxy.Node{Name: "gpu-new", IP: netip.MustParseAddr("10.0.1.200")})
		_, after := render(t, in, &prev)
		live := Parse(before)
		cmds, err := Commands(Parse(after).Servers, running(live))
		if err != nil {
			t.Fatal(err)
		}
		return len(cmds), backends(live) - 20
	}
	small, gpuBackends := count(10)
	large, _ := count(50)
	if small != large || small != 2*gpuBackends {
		t.Fatalf("%d commands at 10 exposures per tenant, %d at 50; want 2 x %d gRPC backends both times", small, large, gpuBackends)
	}
}
