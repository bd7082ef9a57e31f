package haproxyagent

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Bind is one address a frontend binds, and where the configuration asks for it.
type Bind struct {
	// Frontend is the section's name ("ft_beta_grpc").
	Frontend string
	// Addr is the address and port ("127.0.0.1:8001"; ":8404" binds every IPv4 address).
	Addr netip.AddrPort
	File string
	Line int
	// Owner is the bind line's comment: the operator writes the exposure there ("tenant-beta/vllm").
	Owner string
	// Tenant is the tenant whose part of the file holds the frontend ("# tenant beta").
	Tenant string
}

// Where is the bind's place in the configuration, as HAProxy would name it.
func (b Bind) Where() string {
	return fmt.Sprintf("%s:%d (frontend %s, bind %s)", b.File, b.Line, b.Frontend, b.Addr)
}

// Namespace and Exposure split Owner ("namespace/name"); both are "" when the line names none.
func (b Bind) Namespace() string { ns, _, _ := strings.Cut(b.Owner, "/"); return ns }

// Exposure is the name part of Owner.
func (b Bind) Exposure() string {
	if _, name, ok := strings.Cut(b.Owner, "/"); ok {
		return name
	}
	return ""
}

// Binds lists the TCP addresses the frontends and listen sections of files bind, in load order.
// Binds HAProxy does not take as one IP address and port (unix sockets, port ranges, host
// names) are left out: the agent cannot try them.
func Binds(files []File) []Bind {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	var out []Bind
	for _, f := range files {
		frontend, tenant := "", ""
		n := 0
		for line := range strings.Lines(f.Data) {
			n++
			line = strings.TrimRight(line, "\r\n")
			trimmed := strings.TrimSpace(line)
			if trimmed == "" {
				continue
			}
			if trimmed[0] == '#' {
				if t, ok := strings.CutPrefix(trimmed, "# tenant "); ok && line[0] == '#' {
					tenant = strings.TrimSpace(t)
				}
				continue
			}
			if line[0] != ' ' && line[0] != '\t' {
				fields := strings.Fields(trimmed)
				frontend = ""
				if len(fields) >= 2 && (fields[0] == "frontend" || fields[0] == "listen") {
					frontend = fields[1]
				}
				continue
			}
			fields := strings.Fields(stripComment(trimmed))
			if frontend == "" || len(fields) < 2 || fields[0] != "bind" {
				continue
			}
			owner := ""
			if _, comment, ok := strings.Cut(trimmed, " #"); ok {
				owner = strings.TrimSpace(comment)
			}
			for _, spec := range strings.Split(fields[1], ",") {
				if addr, ok := parseBindAddr(spec); ok {
					out = append(out, Bind{Frontend: frontend, Addr: addr, File: f.Name, Line: n, Owner: owner, Tenant: tenant})
				}
			}
		}
	}
	return out
}

// parseBindAddr reads "ip:port", "[ipv6]:port", ":port" and "ipv4@"/"ipv6@" forms.
func parseBindAddr(spec string) (netip.AddrPort, bool) {
	spec = strings.TrimPrefix(strings.TrimPrefix(spec, "ipv4@"), "ipv6@")
	if strings.Contains(spec, "@") {
		return netip.AddrPort{}, false
	}
	i := strings.LastIndexByte(spec, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	host, portText := spec[:i], spec[i+1:]
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, false
	}
	var addr netip.Addr
	switch {
	case host == "" || host == "*":
		addr = netip.IPv4Unspecified()
	case strings.HasPrefix(host, "["):
		a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		if err != nil || a.Zone() != "" {
			return netip.AddrPort{}, false
		}
		addr = a
	default:
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return netip.AddrPort{}, false
		}
		addr = a
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

// BindProbe reports whether HAProxy could bind addr now: nil when it can (or when the agent
// cannot tell), an error that says why not when another socket holds it or the address is not
// on this host.
type BindProbe func(addr netip.AddrPort) error

// TryBind binds a TCP socket to addr the way HAProxy does (SO_REUSEADDR and SO_REUSEPORT) and
// closes it at once. It never listens, so no connection can reach it. Only "address in use" and
// "address not available" count as refusals: HAProxy may hold rights the agent does not (a port
// below 1024), so a permission error says nothing.
func TryBind(addr netip.AddrPort) error {
	family := syscall.AF_INET
	if addr.Addr().Is6() {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	var sa syscall.Sockaddr
	if family == syscall.AF_INET {
		sa = &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	} else {
		sa = &syscall.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
	}
	err = syscall.Bind(fd, sa)
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return errors.New("address already in use (another process listens there)")
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return errors.New("address not available on this host")
	}
	return nil
}

// LeftOut is a frontend the agent keeps out of the configuration it loads, because one of its
// binds cannot be bound here; every other frontend is loaded.
type LeftOut struct {
	Bind
	Reason string
}

func (l LeftOut) String() string { return l.Where() + ": " + l.Reason }

// checkNewBinds tries the binds of desired that the running configuration does not hold
// already (HAProxy hands those over from worker to worker) and returns the frontends whose
// bind would fail, one entry per frontend.
func checkNewBinds(running, desired []Bind, probe BindProbe) []LeftOut {
	held := map[netip.AddrPort]bool{}
	for _, b := range running {
		held[b.Addr] = true
	}
	var out []LeftOut
	seen := map[string]bool{}
	for _, b := range desired {
		if held[b.Addr] || seen[b.Frontend] {
			continue
		}
		if err := probe(b.Addr); err != nil {
			seen[b.Frontend] = true
			out = append(out, LeftOut{Bind: b, Reason: err.Error()})
		}
	}
	return out
}

// withoutFrontends returns files with the named frontend (or listen) sections, and the
// backends only they use, replaced by a comment that says why they are not there.
func withoutFrontends(files []File, left []LeftOut) []File {
	if len(left) == 0 {
		return files
	}
	why := map[string]string{}
	for _, l := range left {
		why[l.Frontend] = "left out by the haproxy-agent: " + l.String()
	}
	// A backend goes with the frontends left out when no other frontend names it.
	uses := map[string][]string{} // backend -> the frontends that name it
	eachSectionLine(files, func(kind, name string, fields []string) {
		if (kind == "frontend" || kind == "listen") && len(fields) >= 2 && (fields[0] == "default_backend" || fields[0] == "use_backend") {
			uses[fields[1]] = append(uses[fields[1]], name)
		}
	})
	for backend, frontends := range uses {
		kept := false
		for _, f := range frontends {
			if _, out := why[f]; !out {
				kept = true
			}
		}
		if !kept {
			why[backend] = "used only by " + strings.Join(frontends, ", ") + ", left out"
		}
	}
	out := make([]File, 0, len(files))
	for _, f := range files {
		var b strings.Builder
		b.Grow(len(f.Data))
		skipping := false
		for line := range strings.Lines(f.Data) {
			trimmed := strings.TrimSpace(line)
			if trimmed != "" && trimmed[0] != '#' && line[0] != ' ' && line[0] != '\t' {
				fields := strings.Fields(trimmed)
				skipping = false
				if len(fields) >= 2 && (fields[0] == "frontend" || fields[0] == "listen" || fields[0] == "backend") {
					if reason, ok := why[fields[1]]; ok {
						skipping = true
						b.WriteString("# " + fields[0] + " " + fields[1] + " " + reason + "\n")
						continue
					}
				}
			}
			if !skipping || (trimmed != "" && line[0] == '#') {
				b.WriteString(line) // comments between sections stay: they describe the next one
			}
		}
		out = append(out, File{Name: f.Name, Data: b.String()})
	}
	return out
}

// eachSectionLine calls fn with every line inside a section: the section's kind and name and
// the line's fields, comments dropped.
func eachSectionLine(files []File, fn func(kind, name string, fields []string)) {
	for _, f := range files {
		kind, name := "", ""
		for line := range strings.Lines(f.Data) {
			trimmed := strings.TrimSpace(line)
			if trimmed == "" || trimmed[0] == '#' {
				continue
			}
			fields := strings.Fields(stripComment(trimmed))
			if line[0] != ' ' && line[0] != '\t' {
				kind, name = fields[0], ""
				if len(fields) >= 2 {
					name = fields[1]
				}
				continue
			}
			fn(kind, name, fields)
		}
	}
}
