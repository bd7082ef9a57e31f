// Package haproxyagent keeps a running HAProxy in step with the configuration the operator
// renders into ConfigMaps, without cutting open streams: a change to the servers of a backend
// (a node joins, leaves, turns NotReady or changes its address) is applied through HAProxy's
// Runtime API; only a change to a bind, a frontend, a certificate or a global setting reloads
// HAProxy, after `haproxy -c` has accepted it.
package haproxyagent

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
)

// File is one file of the configuration directory.
type File struct {
	Name, Data string
}

// Server is one server line of a backend, as the runtime state can express it.
type Server struct {
	Backend, Name string
	// Addr is the server's address; the unspecified address for a free slot.
	Addr     netip.Addr
	Disabled bool
}

// Key is how HAProxy's Runtime API names a server.
func (s Server) Key() string { return s.Backend + "/" + s.Name }

// Config is a configuration as the agent compares it: every section with the servers'
// addresses and states taken out and comments dropped, and the servers themselves. Two
// configurations with equal sections differ only in what the Runtime API can change.
type Config struct {
	// Sections maps a section's header ("global", "frontend ft_alpha_grpc") to its lines.
	Sections map[string]string
	// Order is the section headers in file order.
	Order   []string
	Servers []Server
	// Files are the files that hold certificates and CAs (crt, ca-file), whose content a
	// reload must pick up.
	Files []string
}

// Parse reads the files (in the order HAProxy loads them: by name) into a Config.
func Parse(files []File) Config {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	c := Config{Sections: map[string]string{}}
	var header string
	var body strings.Builder
	flush := func() {
		if header == "" && body.Len() == 0 {
			return
		}
		if _, seen := c.Sections[header]; !seen {
			c.Order = append(c.Order, header)
		}
		c.Sections[header] += body.String()
		body.Reset()
	}
	for _, f := range files {
		for line := range strings.Lines(f.Data) {
			line = strings.TrimRight(line, "\r\n")
			trimmed := strings.TrimSpace(line)
			if trimmed == "" || trimmed[0] == '#' {
				continue
			}
			if line[0] != ' ' && line[0] != '\t' {
				flush()
				header = strings.Join(strings.Fields(trimmed), " ")
				continue
			}
			fields := strings.Fields(stripComment(trimmed))
			for i, f := range fields {
				if (f == "crt" || f == "ca-file") && i+1 < len(fields) && !slices.Contains(c.Files, fields[i+1]) {
					c.Files = append(c.Files, fields[i+1])
				}
			}
			if backend, ok := strings.CutPrefix(header, "backend "); ok && len(fields) >= 3 && fields[0] == "server" {
				if s, shape, ok := parseServer(backend, fields); ok {
					c.Servers = append(c.Servers, s)
					body.WriteString(shape)
					body.WriteByte('\n')
					continue
				}
			}
			body.WriteString(strings.Join(fields, " "))
			body.WriteByte('\n')
		}
	}
	flush()
	slices.Sort(c.Files)
	return c
}

// stripComment drops a trailing comment: '#' after white space, outside quotes.
func stripComment(s string) string {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == '#' && !quoted && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t'):
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

// parseServer splits "server <name> <addr>[:<port>] [disabled] <params>" into the runtime part
// (address, disabled) and the shape (everything else, the port included: the Runtime API
// changes an address and keeps the port mapping). A server whose address is a host name is
// left to the shape: only a reload changes it.
func parseServer(backend string, fields []string) (Server, string, bool) {
	addrText, port := fields[2], ""
	if rest, ok := strings.CutPrefix(addrText, "["); ok {
		host, after, found := strings.Cut(rest, "]")
		if !found {
			return Server{}, "", false
		}
		addrText, port = host, after
	} else if i := strings.IndexByte(addrText, ':'); i >= 0 {
		addrText, port = addrText[:i], addrText[i:]
	}
	addr, err := netip.ParseAddr(addrText)
	if err != nil || addr.Zone() != "" {
		return Server{}, "", false
	}
	s := Server{Backend: backend, Name: fields[1], Addr: addr.Unmap()}
	params := make([]string, 0, len(fields)-3)
	for _, p := range fields[3:] {
		if p == "disabled" {
			s.Disabled = true
			continue
		}
		params = append(params, p)
	}
	shape := "server " + s.Name + " <addr>" + port
	if len(params) > 0 {
		shape += " " + strings.Join(params, " ")
	}
	return s, shape, true
}

// Reasons a configuration is reloaded rather than changed at runtime.
const (
	ReasonGlobal      = "global"      // global or defaults section
	ReasonFrontend    = "frontend"    // a frontend or its binds
	ReasonBackend     = "backend"     // a backend's settings, or a backend added or removed
	ReasonSlots       = "slots"       // a backend's server slots (their number or parameters)
	ReasonCertificate = "certificate" // a certificate or CA file's content
	// Fallbacks, when the Runtime API cannot do what the shape allows.
	ReasonRuntimeUnreachable = "runtime-unreachable"
	ReasonRuntimeFailed      = "runtime-failed"
)

// ReloadReason says why going from live to desired needs a reload, or "" when the Runtime API
// can do it (the servers' addresses and states are all that differ).
func ReloadReason(live, desired Config) string {
	reason := ""
	rank := map[string]int{"": 0, ReasonSlots: 1, ReasonBackend: 2, ReasonFrontend: 3, ReasonGlobal: 4}
	note := func(r string) {
		if rank[r] > rank[reason] {
			reason = r
		}
	}
	seen := map[string]bool{}
	for _, h := range append(slices.Clone(live.Order), desired.Order...) {
		if seen[h] {
			continue
		}
		seen[h] = true
		a, inLive := live.Sections[h]
		b, inDesired := desired.Sections[h]
		if inLive && inDesired && a == b {
			continue
		}
		kind, _, _ := strings.Cut(h, " ")
		switch {
		case kind == "backend" && inLive && inDesired && sameButServers(a, b):
			note(ReasonSlots)
		case kind == "backend":
			note(ReasonBackend)
		case kind == "frontend" || kind == "listen":
			note(ReasonFrontend)
		default:
			note(ReasonGlobal)
		}
	}
	return reason
}

// sameButServers reports whether two backend bodies differ only in their server lines.
func sameButServers(a, b string) bool {
	strip := func(s string) string {
		var out strings.Builder
		for line := range strings.Lines(s) {
			if !strings.HasPrefix(line, "server ") {
				out.WriteString(line)
			}
		}
		return out.String()
	}
	return strip(a) == strip(b)
}

// Checksum is the sha256 of the files, in load order, names included.
func Checksum(files []File) string {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f.Name))
		h.Write([]byte{0})
		h.Write([]byte(f.Data))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
