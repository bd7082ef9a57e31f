package haproxyagent

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

const shardWithTwoTenants = `# tenant alpha

frontend ft_alpha_grpc
    mode tcp
    bind 10.0.100.10:8001  # tenant-alpha/triton
    default_backend bk_alpha_grpc

backend bk_alpha_grpc
    server s1 10.0.1.101:30801 check  # gpu-1
    server s2 0.0.0.0:30801 disabled check

# tenant beta

frontend ft_beta_grpc
    mode tcp
    bind 10.0.100.11:10250  # tenant-beta/evict
    default_backend bk_beta_grpc

backend bk_beta_grpc
    server s1 10.0.1.101:30903 check  # gpu-1

frontend stats
    bind :8404,[::1]:8405,unix@/run/x.sock
    mode http
`

func TestBinds(t *testing.T) {
	got := Binds([]File{{Name: "shard-01.cfg", Data: shardWithTwoTenants}})
	want := []Bind{
		{Frontend: "ft_alpha_grpc", Addr: netip.MustParseAddrPort("10.0.100.10:8001"), File: "shard-01.cfg", Line: 5, Owner: "tenant-alpha/triton", Tenant: "alpha"},
		{Frontend: "ft_beta_grpc", Addr: netip.MustParseAddrPort("10.0.100.11:10250"), File: "shard-01.cfg", Line: 16, Owner: "tenant-beta/evict", Tenant: "beta"},
		{Frontend: "stats", Addr: netip.MustParseAddrPort("0.0.0.0:8404"), File: "shard-01.cfg", Line: 23, Tenant: "beta"},
		{Frontend: "stats", Addr: netip.MustParseAddrPort("[::1]:8405"), File: "shard-01.cfg", Line: 23, Tenant: "beta"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d binds %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("bind %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if ns, name := got[1].Namespace(), got[1].Exposure(); ns != "tenant-beta" || name != "evict" {
		t.Errorf("owner split: %q %q", ns, name)
	}
}

func TestParseBindAddr(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want string // "" when not an address the agent can try
	}{
		{"127.0.0.1:80", "127.0.0.1:80"},
		{":443", "0.0.0.0:443"},
		{"*:443", "0.0.0.0:443"},
		{"[::]:443", "[::]:443"},
		{"ipv4@10.0.0.1:9000", "10.0.0.1:9000"},
		{"ipv6@[fe80::1%eth0]:9000", ""},
		{"unix@/run/a.sock", ""},
		{"/run/a.sock", ""},
		{"10.0.0.1:8000-8010", ""},
		{"10.0.0.1:0", ""},
		{"10.0.0.1:70000", ""},
		{"edge.example.com:443", ""},
	} {
		got, ok := parseBindAddr(tc.spec)
		if (tc.want == "") != !ok || (ok && got.String() != tc.want) {
			t.Errorf("parseBindAddr(%q) = %v, %v; want %q", tc.spec, got, ok, tc.want)
		}
	}
}

// TestLeaveOut: only new binds are tried; a frontend whose bind fails goes, with the backend
// only it uses, and the rest of the file stays as it was.
func TestLeaveOut(t *testing.T) {
	files := []File{{Name: "shard-01.cfg", Data: shardWithTwoTenants}}
	running := Binds([]File{{Name: "shard-01.cfg", Data: "frontend ft_alpha_grpc\n    bind 10.0.100.10:8001\n"}})
	var tried []string
	probe := func(a netip.AddrPort) error {
		tried = append(tried, a.String())
		if a.Port() == 10250 {
			return errors.New("address already in use")
		}
		return nil
	}
	left := checkNewBinds(running, Binds(files), probe)
	if strings.Join(tried, " ") != "10.0.100.11:10250 0.0.0.0:8404 [::1]:8405" {
		t.Fatalf("tried %v: the running bind must not be tried, every new one must", tried)
	}
	if len(left) != 1 || left[0].Frontend != "ft_beta_grpc" || left[0].Reason != "address already in use" {
		t.Fatalf("left out %+v", left)
	}
	out := withoutFrontends(files, left)[0].Data
	c := Parse([]File{{Name: "shard-01.cfg", Data: out}})
	for _, h := range []string{"frontend ft_beta_grpc", "backend bk_beta_grpc"} {
		if _, ok := c.Sections[h]; ok {
			t.Errorf("%s is still there:\n%s", h, out)
		}
	}
	for _, h := range []string{"frontend ft_alpha_grpc", "backend bk_alpha_grpc", "frontend stats"} {
		if _, ok := c.Sections[h]; !ok {
			t.Errorf("%s went too:\n%s", h, out)
		}
	}
	if !strings.Contains(out, "# frontend ft_beta_grpc left out by the haproxy-agent: shard-01.cfg:16") || !strings.Contains(out, "# tenant beta") {
		t.Errorf("the live file does not say what was left out and why:\n%s", out)
	}
}

// TestWithServers: the running files get the desired servers of the named backends only.
func TestWithServers(t *testing.T) {
	live := []File{{Name: "a.cfg", Data: shardWithTwoTenants}}
	moved := strings.ReplaceAll(shardWithTwoTenants, "10.0.1.101", "10.0.1.199")
	got := withServers(live, []File{{Name: "a.cfg", Data: moved}}, map[string]bool{"bk_alpha_grpc": true})[0].Data
	if !strings.Contains(got, "server s1 10.0.1.199:30801 check  # gpu-1") || !strings.Contains(got, "server s1 10.0.1.101:30903 check") {
		t.Fatalf("got:\n%s", got)
	}
	if strings.Count(got, "\n") != strings.Count(shardWithTwoTenants, "\n") {
		t.Fatal("lines were added or lost")
	}
}

// FuzzLeaveOut: whatever the files, leaving frontends out never panics and never leaves a
// section of a frontend it names.
func FuzzLeaveOut(f *testing.F) {
	f.Add(shardWithTwoTenants, "ft_beta_grpc")
	f.Add("frontend a\n bind :1\nbackend b\n", "a")
	f.Fuzz(func(t *testing.T, data, frontend string) {
		files := []File{{Name: "x.cfg", Data: data}}
		out := withoutFrontends(files, []LeftOut{{Bind: Bind{Frontend: frontend}}})
		_ = Binds(out)
		if frontend == "" || strings.ContainsAny(frontend, " \t\r\n#") {
			return
		}
		if _, ok := Parse(out).Sections["frontend "+frontend]; ok {
			t.Fatalf("frontend %q still there:\n%s", frontend, out[0].Data)
		}
	})
}
